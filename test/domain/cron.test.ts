import { describe, expect, it } from 'vitest';
import { cronProblem } from '../../domain/cron';

describe('cronProblem', () => {
  it.each([
    ['0 3 * * *', 'every day at 03:00'],
    ['*/15 * * * *', 'every 15 minutes'],
    ['0 9-17/2 * * mon-fri', 'every other hour of the working day'],
    ['30 2 1,15 * ?', 'the 1st and 15th at 02:30'],
    ['0 0 * JAN,jul 0', 'Sundays in January and July'],
    ['0 0 * * 7', '7 is Sunday too'],
    ['0 12 * * * 2030', 'six fields: with a year'],
    ['15 0 12 * * * *', 'seven fields: seconds first'],
    ['@daily', 'a shorthand'],
    ['  0 3 * * *  ', 'surrounding spaces'],
  ])('accepts %s (%s)', (expression) => {
    expect(cronProblem(expression)).toBeNull();
  });

  it.each([
    ['not a cron', 'has 3'],
    ['0 3 * *', 'has 4'],
    ['0 25 * * *', 'hour 25 is outside 0-23'],
    ['60 * * * *', 'minute 60 is outside 0-59'],
    ['0 0 0 * *', 'day of month 0 is outside 1-31'],
    ['0 0 * 13 *', 'month 13 is outside 1-12'],
    ['0 0 * * funday', 'neither a number'],
    ['0 0 * foo *', 'neither a number'],
    ['*/0 * * * *', 'positive whole step'],
    ['1/2/3 * * * *', 'more than one "/"'],
    ['5-2 * * * *', 'runs backwards'],
    ['0 0 * * fri-mon', 'runs backwards'],
    ['1- * * * *', 'not a value, a range'],
    ['? * * * *', 'neither a number'],
    ['0 0 L * *', 'neither a number'],
    ['@every 5m', 'intervalSeconds'],
    ['@fortnightly', 'unknown shorthand'],
    ['CRON_TZ=Europe/Paris 0 3 * * *', 'timezone field'],
  ])('refuses %s, saying "%s"', (expression, said) => {
    expect(cronProblem(expression)).toContain(said);
  });
});
