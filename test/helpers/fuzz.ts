import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { apiClient, expectBody } from '../../api/typed-client';
import { fastPolicy } from '../../scripts/lib/scenario';
import type { Stack, TestIdentity } from './stack';

/**
 * Runs schemathesis (scripts/ensure-schemathesis) against the stack's API
 * served over HTTP, once per role, and sums what it found. The API runs on
 * the stack's real Postgres and Temporal with its workers, so a trigger
 * really reaches a model workflow and a fuzzed policy really starts a run.
 */

/** One identity per role: every role's view of the API is fuzzed (403s included). */
export const FUZZ_ROLES: readonly TestIdentity[] = ['admin', 'alice', 'olga', 'monitor', 'vera'];

type Phase = 'examples' | 'coverage' | 'fuzzing' | 'stateful';
const ALL_PHASES: readonly Phase[] = ['examples', 'coverage', 'fuzzing', 'stateful'];

export interface FuzzOptions {
  /** Test cases per operation and phase, for the admin (every operation is open to it). */
  readonly maxExamples: number;
  /**
   * The other roles' runs: phases and examples. Their answers differ from
   * the admin's mainly by 403s, so CI gives them a shorter run; default: the
   * admin's.
   */
  readonly otherRoles?: { readonly phases: readonly Phase[]; readonly maxExamples: number };
  readonly roles?: readonly TestIdentity[];
  readonly seed?: number;
  /** Seconds before a request counts as a timeout. */
  readonly requestTimeout?: number;
  readonly reportDir: string;
}

export interface FuzzCounts {
  /** Requests sent, over every role and phase. */
  readonly requests: number;
  readonly serverErrors: number;
  readonly timeouts: number;
  readonly undocumentedStatuses: number;
  readonly schemaViolations: number;
  /** Every failed check, by check name (the counts above are some of these). */
  readonly failures: Record<string, number>;
  /** Requests per response status. */
  readonly statuses: Record<string, number>;
  /** Each failure in a line: role, check, operation, and what schemathesis said. */
  readonly examples: readonly string[];
  readonly seconds: number;
}

const CHECKS_COUNTED = {
  not_a_server_error: 'serverErrors',
  status_code_conformance: 'undocumentedStatuses',
  response_schema_conformance: 'schemaViolations',
} as const;

/** A model the fuzzer's examples name (`churn`, the path parameter's example), so reads find something. */
export async function seedFuzzData(stack: Stack) {
  const api = apiClient(stack.app, stack.tokens.admin);
  await expectBody(
    api.v1.models.$post({
      json: { name: 'churn', dataUri: path.join(stack.dataDir, 'missing.csv'), policy: fastPolicy() },
    }),
    201,
  );
}

export async function runSchemathesis(stack: Stack, opts: FuzzOptions): Promise<FuzzCounts> {
  const st = execFileSync(
    'bash',
    [path.join(import.meta.dirname, '..', '..', 'scripts', 'ensure-schemathesis')],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  ).trim();
  const reportDir = path.resolve(opts.reportDir);
  mkdirSync(reportDir, { recursive: true });
  const server = serve({ fetch: stack.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const started = Date.now();
  const totals: Totals = {
    requests: 0,
    serverErrors: 0,
    timeouts: 0,
    undocumentedStatuses: 0,
    schemaViolations: 0,
    failures: {},
    statuses: {},
    examples: [],
  };
  try {
    for (const role of opts.roles ?? FUZZ_ROLES) {
      const { phases, maxExamples } =
        role === 'admin' || !opts.otherRoles
          ? { phases: ALL_PHASES, maxExamples: opts.maxExamples }
          : opts.otherRoles;
      const ndjson = path.join(reportDir, `${role}.ndjson`);
      const args = [
        'run',
        `${base}/openapi.json`,
        '--header',
        `Authorization: Bearer ${stack.tokens[role]}`,
        '--checks',
        'all',
        '--phases',
        phases.join(','),
        '--max-examples',
        String(maxExamples),
        '--seed',
        String(opts.seed ?? 42),
        '--request-timeout',
        String(opts.requestTimeout ?? 10),
        '--workers',
        '2',
        '--no-color',
        '--report',
        'ndjson,junit',
        '--report-ndjson-path',
        ndjson,
        '--report-junit-path',
        path.join(reportDir, `${role}.junit.xml`),
      ];
      const output = await runProcess(st, args, reportDir);
      writeFileSync(path.join(reportDir, `${role}.log`), output);
      addReport(totals, role, readFileSync(ndjson, 'utf8'));
    }
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return { ...totals, seconds: Math.round((Date.now() - started) / 1000) };
}

/** Runs in `cwd` (the report folder), where schemathesis keeps its cache of failures. */
function runProcess(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('error', reject);
    // Schemathesis exits 1 when a check failed; the report says which, so both count as done.
    child.on('close', (code) =>
      code === 0 || code === 1
        ? resolve(output)
        : reject(new Error(`st exited ${code}:\n${output.slice(-4000)}`)),
    );
  });
}

interface Check {
  readonly name: string;
  readonly status: string;
  readonly failure_info?: { failure?: { title?: string; message?: string } } | null;
}
interface Interaction {
  readonly response?: { status_code?: number } | null;
}
type Event = Record<
  string,
  {
    recorder?: {
      label: string;
      checks?: Record<string, Check[]>;
      interactions?: Record<string, Interaction>;
    };
    value?: { type?: string; message?: string };
    label?: string;
  }
>;

type Totals = { -readonly [K in keyof Omit<FuzzCounts, 'seconds' | 'examples'>]: FuzzCounts[K] } & {
  examples: string[];
};

/** Adds one role's NDJSON event stream (schemathesis --report ndjson) to the totals. */
function addReport(totals: Totals, role: string, ndjson: string) {
  const example = (line: string) => {
    if (totals.examples.length < 50) totals.examples.push(`${role}: ${line}`);
  };
  for (const line of ndjson.split('\n')) {
    if (!line.trim()) continue;
    const event = JSON.parse(line) as Event;
    const [kind, data] = Object.entries(event)[0]!;
    if (kind === 'NonFatalError') {
      // A request that did not get an answer in time is reported as an error, not a check.
      const what = `${data.value?.type ?? ''} ${data.value?.message ?? ''}`;
      if (/timeout|timed out/i.test(what)) totals.timeouts += 1;
      totals.failures.error = (totals.failures.error ?? 0) + 1;
      example(`error in ${data.label}: ${what.trim().slice(0, 300)}`);
      continue;
    }
    if (kind !== 'ScenarioFinished' || !data.recorder) continue;
    const { label, checks = {}, interactions = {} } = data.recorder;
    for (const interaction of Object.values(interactions)) {
      totals.requests += 1;
      const status = String(interaction.response?.status_code ?? 'none');
      totals.statuses[status] = (totals.statuses[status] ?? 0) + 1;
    }
    for (const list of Object.values(checks)) {
      for (const check of list) {
        if (check.status === 'success' || check.status === 'skip') continue;
        totals.failures[check.name] = (totals.failures[check.name] ?? 0) + 1;
        const counted = CHECKS_COUNTED[check.name as keyof typeof CHECKS_COUNTED];
        if (counted) totals[counted] += 1;
        const failure = check.failure_info?.failure;
        if (/timed? ?out/i.test(failure?.title ?? '')) totals.timeouts += 1;
        example(`${check.name} ${label}: ${failure?.title ?? ''}: ${(failure?.message ?? '').slice(0, 400)}`);
      }
    }
  }
}
