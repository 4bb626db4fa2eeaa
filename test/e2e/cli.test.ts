/**
 * The `ctloop` CLI (bin/ctloop.mjs → cli/main.ts) as an operator and an
 * approver run it, against an API process on the test stack: a run from
 * trigger to promotion followed live with `run --watch` (its exit code says
 * the outcome), the approvals inbox, an approval, lineage; and the errors a
 * person meets (no token, a role that may not, an unknown model, no API),
 * each as one line and a non-zero exit, never a stack trace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastPolicy, registerModel, sendTraffic, writeDataset } from '../../scripts/lib/scenario';
import { freePort } from '../../scripts/temporal-dev-server';
import { type CtloopProcess, startCtloopProcess } from '../helpers/ctloop-process';
import { type Stack, startStack, type TestIdentity } from '../helpers/stack';
import { stackProcessEnv } from '../helpers/worker-process';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('the ctloop CLI', () => {
  let stack: Stack;
  let apiProcess: CtloopProcess;
  let apiUrl: string;
  let apiPort: number;
  const startApi = async () => {
    const proc = startCtloopProcess({
      name: 'api',
      script: 'api/server.ts',
      env: { ...stackProcessEnv(stack), PORT: String(apiPort) },
    });
    await proc.waitFor(/API listening/, 90_000);
    return proc;
  };
  const model = 'cli-churn';
  // No config file of the machine's user gets in the way.
  const configDir = mkdtempSync(path.join(os.tmpdir(), 'ctloop-cli-'));

  beforeAll(async () => {
    stack = await startStack();
    apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    apiProcess = await startApi();
    const data = await writeDataset(stack.dataDir, 'cli', { rows: 1200, seed: 5 });
    await registerModel(stack.api(), model, data, fastPolicy());
  }, 180_000);
  afterAll(async () => {
    await apiProcess?.kill('SIGKILL');
    await stack?.close();
  });

  /** Runs `ctloop args…` as `who`; resolves when it exits. `onOutput` sees stdout as it comes. */
  const ctloop = (
    who: TestIdentity | null,
    args: readonly string[],
    opts: { env?: NodeJS.ProcessEnv; onOutput?: (soFar: string) => void } = {},
  ): Promise<CliResult> =>
    new Promise((resolve) => {
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: configDir,
        CTLOOP_CONFIG: path.join(configDir, 'config.json'),
        CTLOOP_API_URL: apiUrl,
        ...(who ? { CTLOOP_TOKEN: stack.tokens[who] } : {}),
        ...opts.env,
      };
      for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
      const child = spawn(process.execPath, ['bin/ctloop.mjs', ...args], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
        opts.onOutput?.(stdout);
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  const oneLineError = (r: CliResult, pattern: RegExp) => {
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  };

  it('takes a run from trigger to promotion: watch, inbox, approve, lineage', async () => {
    const models = await ctloop('vera', ['--json', 'models']);
    expect(models.code).toBe(0);
    expect(JSON.parse(models.stdout).models.map((x: { name: string }) => x.name)).toContain(model);
    expect((await ctloop('vera', ['models'])).stdout).toMatch(
      new RegExp(`^MODEL\\s+FROZEN.*\\n${model}\\s+no`, 'm'),
    );

    const triggered = await ctloop('olga', ['--json', 'trigger', model, '--reason', 'manual']);
    expect(triggered.code).toBe(0);
    const { fate, runId } = JSON.parse(triggered.stdout);
    expect(fate).toBe('started');

    // An operator follows the run live while an approver decides.
    let seenApprovalWait!: () => void;
    const approvalWait = new Promise<void>((r) => {
      seenApprovalWait = r;
    });
    const watching = ctloop('olga', ['run', model, runId, '--watch'], {
      onOutput: (soFar) => {
        if (/waiting for approval until/.test(soFar)) seenApprovalWait();
      },
    });
    await approvalWait;

    const inbox = await ctloop('alice', ['--json', 'approvals']);
    expect(inbox.code).toBe(0);
    expect(JSON.parse(inbox.stdout).approvals).toEqual([
      expect.objectContaining({ model, runId, youMayDecide: true }),
    ]);
    expect((await ctloop('alice', ['approvals'])).stdout).toMatch(
      new RegExp(`${model}\\s+${runId}\\s+promotion`),
    );

    // A viewer may not decide: one line that says so, and the run still waits.
    oneLineError(await ctloop('vera', ['approve', model, runId]), /403/);
    const approved = await ctloop('alice', ['approve', model, runId, '--reason', 'metrics look right']);
    expect(approved).toMatchObject({ code: 0, stdout: `approved: run ${runId} of ${model}\n` });

    const watched = await watching;
    console.info(`ctloop run ${model} ${runId} --watch:\n${watched.stdout}`);
    expect(watched.stderr).toBe('');
    expect(watched.code).toBe(0); // promoted
    const lines = watched.stdout.trim().split('\n');
    // It followed the run live from a stage before the approval (a quick run may be past training
    // by the watch's first look), through the wait, to the outcome.
    expect(lines[0]).toMatch(/stage (validate|train|evaluate|approve)/);
    expect(lines.some((l) => /waiting for approval until/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/promoted/);

    const run = await ctloop('vera', ['--json', 'run', model, runId]);
    expect(JSON.parse(run.stdout)).toMatchObject({ id: runId, outcome: 'promoted', candidateVersion: 1 });
    const runs = await ctloop('vera', ['runs', model]);
    expect(runs.stdout).toMatch(new RegExp(`${runId}\\s+done\\s+promoted\\s+v1`));
    const lineage = await ctloop('vera', ['lineage', model, 'v1']);
    expect(lineage.code).toBe(0);
    expect(lineage.stdout).toContain(runId);
    // For scripts: one JSON line per change; a run that has ended gives its outcome at once.
    const followed = await ctloop('vera', ['--json', 'run', model, runId, '--watch']);
    expect(followed.code).toBe(0);
    expect(
      followed.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([expect.objectContaining({ stage: 'done', outcome: 'promoted' })]);
    // Nothing left to follow.
    oneLineError(await ctloop('vera', ['runs', model, '--watch']), /no run of cli-churn is in progress/);

    // Drift: a monitor triggers and follows the retrain through approval, canary and bake.
    const after = await writeDataset(stack.dataDir, 'cli-after', { rows: 1200, seed: 6, shift: 1.5 });
    let retrainId = '';
    let approvedOnce = false;
    let trafficDone = false;
    let traffic: ReturnType<typeof sendTraffic> | null = null;
    const retrain = await ctloop(
      'monitor',
      ['trigger', model, '--reason', 'drift', '--details', JSON.stringify({ dataUri: after }), '--watch'],
      {
        onOutput: (soFar) => {
          retrainId ||= /^started: run (\S+)/.exec(soFar)?.[1] ?? '';
          if (!approvedOnce && /waiting for approval until/.test(soFar)) {
            approvedOnce = true;
            void ctloop('alice', [
              'approve',
              model,
              retrainId,
              '--reason',
              'better on the drifted data',
            ]).then(async (r) => {
              expect(r.code).toBe(0);
              traffic = sendTraffic(stack.api(), model, await readFile(after, 'utf8'), () => trafficDone);
            });
          }
        },
      },
    );
    trafficDone = true;
    await traffic;
    console.info(`ctloop trigger ${model} --reason drift … --watch:\n${retrain.stdout}`);
    expect(retrain.stderr).toBe('');
    const story = retrain.stdout;
    expect(story).toMatch(/^started: run /);
    expect(story).toMatch(/stage canary, candidate gets 10 % of traffic/);
    expect(story).toMatch(/last step 10 %: pass \(\d+ candidate \/ \d+ champion requests\)/);
    expect(story).toMatch(/stage bake, bake ends in \d+ s/);
    expect(story.trim().split('\n').at(-1)).toMatch(/promoted/);
    expect(retrain.code).toBe(0);
  }, 240_000);

  it('says what is wrong in one line, with an exit code, never a stack trace', async () => {
    oneLineError(await ctloop(null, ['models']), /401 unauthenticated .*CTLOOP_TOKEN/);
    oneLineError(await ctloop('vera', ['model', 'no-such-model']), /404/);
    oneLineError(await ctloop('vera', ['lineage', model, 'abc']), /version must be a positive whole number/);
    oneLineError(
      await ctloop('olga', ['trigger', model, '--details', '{not json']),
      /--details must be a JSON object/,
    );
    const unreachable = await ctloop('vera', ['models'], { env: { CTLOOP_API_URL: 'http://127.0.0.1:9' } });
    oneLineError(unreachable, /cannot reach the ctloop API at http:\/\/127\.0\.0\.1:9/);
    expect(unreachable.code).toBe(1);
    const notUrl = await ctloop('vera', ['models'], { env: { CTLOOP_API_URL: 'ctloop.example' } });
    oneLineError(notUrl, /not a URL/);
    expect(notUrl.code).toBe(2);
    const unknown = await ctloop('vera', ['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);

    // A token and URL from the config file, as `ctloop token` reports (without printing the token).
    writeFileSync(path.join(configDir, 'config.json'), JSON.stringify({ apiUrl, token: stack.tokens.vera }));
    const fromFile = await ctloop(null, ['--json', 'models'], { env: { CTLOOP_API_URL: undefined } });
    expect(fromFile.code).toBe(0);
    const where = await ctloop(null, ['--json', 'token'], { env: { CTLOOP_API_URL: undefined } });
    expect(JSON.parse(where.stdout)).toMatchObject({
      apiUrl,
      tokenFrom: path.join(configDir, 'config.json'),
    });
    expect(where.stdout).not.toContain(stack.tokens.vera);
    writeFileSync(path.join(configDir, 'config.json'), '{"apiUrl": 3');
    oneLineError(await ctloop(null, ['models']), /config\.json is not JSON/);
    rmSync(path.join(configDir, 'config.json'));
  });
  it('keeps watching through an API restart and ends with the outcome', async () => {
    const other = 'cli-restart';
    const data = await writeDataset(stack.dataDir, 'cli-restart', { rows: 1200, seed: 8 });
    await registerModel(stack.api(), other, data, fastPolicy());
    const triggered = await ctloop('olga', ['--json', 'trigger', other]);
    expect(triggered).toMatchObject({ code: 0, stderr: '' });
    const { runId } = JSON.parse(triggered.stdout);
    let output = '';
    const watching = ctloop('olga', ['run', other, runId, '--watch'], {
      onOutput: (soFar) => {
        output = soFar;
      },
    });
    const until = async (pattern: RegExp) => {
      const deadline = Date.now() + 60_000;
      while (!pattern.test(output)) {
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await until(/waiting for approval until/);
    await apiProcess.kill('SIGKILL');
    await until(/API unavailable \(cannot reach the ctloop API .*\); still watching/);
    apiProcess = await startApi();
    expect((await ctloop('alice', ['approve', other, runId])).code).toBe(0);
    const watched = await watching;
    console.info(`ctloop run ${other} ${runId} --watch, the API killed and restarted:\n${watched.stdout}`);
    expect(watched.stderr).toBe('');
    expect(watched.stdout).toMatch(/API back after \d+ s/);
    expect(watched.stdout.trim().split('\n').at(-1)).toMatch(/promoted/);
    expect(watched.code).toBe(0);
  }, 180_000);
});
