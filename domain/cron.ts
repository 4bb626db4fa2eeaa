/**
 * The cron syntax a retrain schedule accepts: what Temporal's scheduler reads
 * in `ScheduleSpec.cronExpressions`, less its extensions that the API offers
 * as fields of their own (`@every` is `intervalSeconds`, `CRON_TZ=` is
 * `timezone`).
 */

interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Three-letter names, lowercase, numbered from `min`. */
  readonly names?: readonly string[];
  /** `?` means "any" in the two day fields only. */
  readonly questionMark?: boolean;
}

const SECOND: CronField = { name: 'second', min: 0, max: 59 };
const MINUTE: CronField = { name: 'minute', min: 0, max: 59 };
const HOUR: CronField = { name: 'hour', min: 0, max: 23 };
const DAY_OF_MONTH: CronField = { name: 'day of month', min: 1, max: 31, questionMark: true };
const MONTH: CronField = {
  name: 'month',
  min: 1,
  max: 12,
  names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
};
// 0 and 7 are both Sunday, as in Vixie cron.
const DAY_OF_WEEK: CronField = {
  name: 'day of week',
  min: 0,
  max: 7,
  names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
  questionMark: true,
};
const YEAR: CronField = { name: 'year', min: 1970, max: 2999 };

const LAYOUTS: Record<number, readonly CronField[]> = {
  5: [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK],
  6: [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR],
  7: [SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR],
};

const SHORTHANDS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

function valueProblem(text: string, field: CronField): string | null {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n >= field.min && n <= field.max
      ? null
      : `${field.name} ${n} is outside ${field.min}-${field.max}`;
  }
  if (field.names?.includes(text.toLowerCase())) return null;
  const orName = field.names ? ` nor a name like ${field.names[0]}` : '';
  return `${field.name} has "${text}", which is neither a number${orName}`;
}

function itemProblem(item: string, field: CronField): string | null {
  const [base = '', step, extra] = item.split('/');
  if (extra !== undefined) return `${field.name} item "${item}" has more than one "/"`;
  if (step !== undefined && !/^[1-9]\d*$/.test(step)) {
    return `${field.name} item "${item}" needs a positive whole step after "/"`;
  }
  if (base === '*' || (base === '?' && field.questionMark)) return null;
  const bounds = base.split('-');
  if (bounds.length > 2 || bounds.some((b) => b === '')) {
    return `${field.name} item "${item}" is not a value, a range a-b or "*"`;
  }
  for (const b of bounds) {
    const problem = valueProblem(b, field);
    if (problem) return problem;
  }
  if (bounds.length === 2) {
    const index = (b: string) =>
      /^\d+$/.test(b) ? Number(b) : field.min + field.names!.indexOf(b.toLowerCase());
    if (index(bounds[0]!) > index(bounds[1]!)) return `${field.name} range "${base}" runs backwards`;
  }
  return null;
}

/**
 * Why `expression` is not an acceptable cron expression, or null when it is.
 * Accepts 5 fields (minute hour day-of-month month day-of-week), 6 (plus
 * year) or 7 (second first, plus year); each field a comma list of `*`,
 * values, ranges `a-b`, each with an optional `/step`; month and weekday
 * names (`jan`, `mon`); `?` in the day fields; or one of `@yearly`,
 * `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`.
 *
 * @example cronProblem('0 3 * * mon-fri') // null
 * @example cronProblem('0 25 * * *') // 'hour 25 is outside 0-23'
 */
export function cronProblem(expression: string): string | null {
  const text = expression.trim();
  if (text.startsWith('@')) {
    if (SHORTHANDS.has(text.toLowerCase())) return null;
    if (text.toLowerCase().startsWith('@every')) return 'use intervalSeconds instead of @every';
    return `unknown shorthand ${text} (use one of ${[...SHORTHANDS].join(', ')})`;
  }
  if (/^(CRON_)?TZ=/i.test(text)) return 'give the time zone in the timezone field, not in the expression';
  const fields = text.split(/\s+/);
  const layout = LAYOUTS[fields.length];
  if (!layout)
    return `a cron expression has 5, 6 or 7 fields separated by spaces; this one has ${fields.length}`;
  for (const [i, part] of fields.entries()) {
    for (const item of part.split(',')) {
      const problem = itemProblem(item, layout[i]!);
      if (problem) return problem;
    }
  }
  return null;
}
