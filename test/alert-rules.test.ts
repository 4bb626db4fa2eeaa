/**
 * The Prometheus alert rules that ship with ctloop (observability/alert-rules.yml)
 * are valid for Prometheus (`promtool check rules`) and behave as their unit
 * tests say (`promtool test rules`: input series → expected alerts), and every
 * alert has a case in which it fires. promtool comes from scripts/ensure-promtool.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const RULES = path.join(root, 'observability', 'alert-rules.yml');
const RULE_TESTS = path.join(root, 'observability', 'alert-rules-test.yml');

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string }[] }[];
}
interface RuleTests {
  rule_files: string[];
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

describe('alert rules', () => {
  let promtool: string;
  beforeAll(() => {
    promtool = execFileSync('bash', [path.join(root, 'scripts', 'ensure-promtool')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 5 * 60_000,
    })
      .trim()
      .split('\n')
      .pop()!;
  }, 5 * 60_000);

  const run = (...args: string[]) => {
    const res = spawnSync(promtool, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
    return { status: res.status, output: `${res.stdout}${res.stderr}` };
  };

  it('pass `promtool check rules`', () => {
    const { status, output } = run('check', 'rules', RULES);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
    expect(status, output).toBe(0);
  });

  it('pass their unit tests (`promtool test rules`)', () => {
    const { status, output } = run('test', 'rules', RULE_TESTS);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it('have a unit test in which each alert fires', () => {
    const rules = parse(readFileSync(RULES, 'utf8')) as RuleFile;
    const tests = parse(readFileSync(RULE_TESTS, 'utf8')) as RuleTests;
    expect(tests.rule_files.map((f) => path.resolve(path.dirname(RULE_TESTS), f))).toEqual([RULES]);
    const alerts = rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
    expect(alerts.length).toBeGreaterThan(0);
    const firing = new Set(
      tests.tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname),
      ),
    );
    expect(alerts.filter((a) => !firing.has(a))).toEqual([]);
  });
});
