import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FuzzCounts, runSchemathesis, seedFuzzData } from '../helpers/fuzz';
import { type Stack, startStack } from '../helpers/stack';

/**
 * The API as schemathesis sees it (every phase, stateful included, as the
 * admin; a shorter run as each other role): whatever it sends, the API answers within the request timeout, with
 * a status /openapi.json documents for that operation and a body that
 * matches the schema documented for that status, and never with a 5xx of its
 * own. The examples per operation are few so that it fits CI (about two
 * minutes); `npm run bench -- fuzz` runs the same with many more.
 */
describe('the OpenAPI description under a fuzzer', () => {
  let stack: Stack;
  let counts: FuzzCounts;

  beforeAll(async () => {
    stack = await startStack();
    await seedFuzzData(stack);
    counts = await runSchemathesis(stack, {
      maxExamples: Number(process.env.CTLOOP_FUZZ_EXAMPLES ?? 5),
      otherRoles: { phases: ['examples', 'fuzzing', 'stateful'], maxExamples: 2 },
      reportDir: path.join(stack.dataDir, 'schemathesis'),
      requestTimeout: 10,
    });
  }, 540_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('sends thousands of requests across every operation and status', () => {
    expect(counts.requests).toBeGreaterThan(1000);
    // Successes and refusals both: the stack really served the calls, not only rejected them.
    expect(Object.keys(counts.statuses)).toEqual(
      expect.arrayContaining(['200', '202', '400', '401', '403', '404']),
    );
  });

  it('finds no server error, timeout, undocumented status or response that breaks its schema', () => {
    const found = {
      serverErrors: counts.serverErrors,
      timeouts: counts.timeouts,
      undocumentedStatuses: counts.undocumentedStatuses,
      schemaViolations: counts.schemaViolations,
    };
    expect(found, counts.examples.join('\n')).toEqual({
      serverErrors: 0,
      timeouts: 0,
      undocumentedStatuses: 0,
      schemaViolations: 0,
    });
  });
});
