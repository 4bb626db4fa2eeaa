import { Command, CommanderError, Option } from 'commander';
import { type CliConfig, CliError, configFilePath, resolveConfig } from './config';
import { call } from './http';
import { describeRun, exitCodeOf, type RunAnswer, watchRun } from './watch';

/**
 * `ctloop`: the operator's and approver's command line over the HTTP API
 * (`npx ctloop --help`). Every command takes `--json` for scripts; errors
 * are one line on stderr and a non-zero exit.
 */
const program = new Command()
  .name('ctloop')
  .description('ctloop: continuous training as durable workflows. Talks to the ctloop API.')
  .option('--api-url <url>', 'the API (default: $CTLOOP_API_URL, the config file, http://localhost:3000)')
  .option('--token <token>', 'API token (default: $CTLOOP_TOKEN or the config file)')
  .option('--json', 'print JSON (for scripts)')
  .showHelpAfterError('(ctloop --help lists the commands)')
  .exitOverride();

const globals = () => program.opts<{ apiUrl?: string; token?: string; json?: boolean }>();
const config = (): CliConfig => resolveConfig(globals());
const json = () => globals().json === true;
const m = encodeURIComponent;

/** Prints the API's answer as JSON, or `human(answer)` for people. */
function print<T>(answer: T, human: (a: T) => string) {
  process.stdout.write(json() ? `${JSON.stringify(answer, null, 2)}\n` : `${human(answer)}\n`);
}

/** Rows as aligned columns. */
function table(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  if (rows.length === 0) return '(none)';
  const cells = [header, ...rows.map((r) => r.map((v) => (v === null || v === undefined ? '–' : String(v))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells
    .map((r) =>
      r
        .map((v, i) => v.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const positiveInt = (what: string) => (value: string) => {
  if (!/^[1-9][0-9]{0,8}$/.test(value))
    throw new CliError(`${what} must be a positive whole number, not ${JSON.stringify(value)}`, 2);
  return Number(value);
};

interface ModelRow {
  name: string;
  frozen: boolean;
  updatedAt: string;
  champion?: number | null;
  dataUri: string;
}

program
  .command('models')
  .description('the registered models')
  .action(async () => {
    const answer = await call<{ models: ModelRow[] }>(config(), 'GET', '/models');
    print(answer, (a) =>
      table(
        ['MODEL', 'FROZEN', 'DATA', 'UPDATED'],
        a.models.map((x) => [x.name, x.frozen ? 'yes' : 'no', x.dataUri, x.updatedAt]),
      ),
    );
  });

program
  .command('model <name>')
  .description('a model: its champion, freeze and policy')
  .action(async (name: string) => {
    const answer = await call<ModelRow & { freeze: { frozen: boolean; reason: string | null } }>(
      config(),
      'GET',
      `/models/${m(name)}`,
    );
    print(answer, (a) =>
      [
        `model     ${a.name}`,
        `champion  ${a.champion === null || a.champion === undefined ? 'none yet' : `v${a.champion}`}`,
        `data      ${a.dataUri}`,
        `frozen    ${a.freeze.frozen ? `yes: ${a.freeze.reason}` : 'no'}`,
      ].join('\n'),
    );
  });

program
  .command('runs <model>')
  .description("a model's runs, newest first")
  .option('--watch', 'follow the run in progress until it ends')
  .action(async (model: string, opts: { watch?: boolean }) => {
    const answer = await call<{ runs: RunAnswer[] }>(config(), 'GET', `/models/${m(model)}/runs`);
    if (opts.watch) {
      const going = answer.runs.find((r) => r.outcome === null);
      if (!going) throw new CliError(`no run of ${model} is in progress`, 1);
      return watch(model, going.id);
    }
    print(answer, (a) =>
      table(
        ['RUN', 'STAGE', 'OUTCOME', 'CANDIDATE', 'STARTED'],
        a.runs.map((r) => [
          r.id,
          r.stage,
          r.outcome ?? 'running',
          r.candidateVersion === null ? null : `v${r.candidateVersion}`,
          r.startedAt,
        ]),
      ),
    );
  });

async function watch(model: string, runId: string) {
  const run = await watchRun(config(), model, runId, { json: json() });
  process.exitCode = exitCodeOf(run.outcome);
}

program
  .command('run <model> <runId>')
  .description('one run: stage, training, approval, canary, outcome')
  .option(
    '--watch',
    'follow it live until it ends; the exit code says the outcome (0 promoted, 3 rejected, 4 rolled back, 5 failed, 6 cancelled)',
  )
  .action(async (model: string, runId: string, opts: { watch?: boolean }) => {
    if (opts.watch) return watch(model, runId);
    const run = await call<RunAnswer>(config(), 'GET', `/models/${m(model)}/runs/${m(runId)}`);
    print(run, (r) => `run ${r.id} of ${r.model}: ${describeRun(r)}`);
  });

program
  .command('trigger <model>')
  .description('ask for a retrain')
  .addOption(
    new Option('--reason <reason>', 'why')
      .choices(['manual', 'drift', 'schedule', 'performance'])
      .default('manual'),
  )
  .option('--details <json>', 'what the trigger carries, as a JSON object')
  .option('--dedup-key <key>', 'triggers with the same key start one run')
  .option('--watch', 'follow the run it starts or joins until it ends')
  .action(
    async (model: string, opts: { reason: string; details?: string; dedupKey?: string; watch?: boolean }) => {
      let details: unknown = {};
      if (opts.details !== undefined) {
        try {
          details = JSON.parse(opts.details);
        } catch {
          throw new CliError('--details must be a JSON object, e.g. \'{"ticket": "OPS-1"}\'', 2);
        }
      }
      const answer = await call<{ fate: string; runId: string | null; reason?: string }>(
        config(),
        'POST',
        `/models/${m(model)}/triggers`,
        {
          reason: opts.reason,
          details,
          ...(opts.dedupKey ? { dedupKey: opts.dedupKey } : {}),
        },
      );
      print(
        answer,
        (a) => `${a.fate}${a.runId ? `: run ${a.runId}` : ''}${a.reason ? ` (${a.reason})` : ''}`,
      );
      if (opts.watch && answer.runId) return watch(model, answer.runId);
    },
  );

for (const decision of ['approve', 'reject'] as const) {
  program
    .command(`${decision} <model> <runId>`)
    .description(`${decision} a run waiting for a decision`)
    .option('--reason <text>', 'why (kept in the audit log)')
    .action(async (model: string, runId: string, opts: { reason?: string }) => {
      const answer = await call(
        config(),
        'POST',
        `/models/${m(model)}/runs/${m(runId)}/${decision}`,
        opts.reason ? { reason: opts.reason } : {},
      );
      print(answer, () => `${decision === 'approve' ? 'approved' : 'rejected'}: run ${runId} of ${model}`);
    });
}

for (const action of ['pause', 'resume', 'abort', 'promote-now'] as const) {
  program
    .command(`${action} <model> <runId>`)
    .description(`${action} the run's canary`)
    .option('--reason <text>', 'why (kept in the audit log)')
    .action(async (model: string, runId: string, opts: { reason?: string }) => {
      const answer = await call(
        config(),
        'POST',
        `/models/${m(model)}/runs/${m(runId)}/${action}`,
        opts.reason ? { reason: opts.reason } : {},
      );
      print(answer, () => `${action}: sent to run ${runId} of ${model}`);
    });
}

program
  .command('rollback <model>')
  .description('roll the model back to its previous champion')
  .requiredOption('--reason <text>', 'why (kept in the audit log)')
  .action(async (model: string, opts: { reason: string }) => {
    const answer = await call(config(), 'POST', `/models/${m(model)}/rollback`, { reason: opts.reason });
    print(answer, () => `rolled back ${model}`);
  });

program
  .command('freeze <model>')
  .description('hold the model: runs stop before canary and promotion')
  .requiredOption('--reason <text>', 'why (shown to everyone)')
  .action(async (model: string, opts: { reason: string }) => {
    const answer = await call(config(), 'POST', `/models/${m(model)}/freeze`, { reason: opts.reason });
    print(answer, () => `frozen: ${model}`);
  });

program
  .command('unfreeze <model>')
  .description('let held runs go on')
  .option('--reason <text>', 'why')
  .action(async (model: string, opts: { reason?: string }) => {
    const answer = await call(
      config(),
      'POST',
      `/models/${m(model)}/unfreeze`,
      opts.reason ? { reason: opts.reason } : {},
    );
    print(answer, () => `unfrozen: ${model}`);
  });

program
  .command('lineage <model> <version>')
  .description('where a version came from: run, data, trainer, evaluation, decisions')
  .action(async (model: string, version: string) => {
    const v = positiveInt('version')(version.replace(/^v/, ''));
    const answer = await call(config(), 'GET', `/models/${m(model)}/versions/${v}/lineage`);
    process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
  });

program
  .command('approvals')
  .description('the runs waiting for a decision (your inbox)')
  .action(async () => {
    const answer = await call<{
      approvals: {
        model: string;
        runId: string;
        purpose: string;
        candidateVersion: number | null;
        deadline: string | null;
        youMayDecide: boolean;
        whyNot: string | null;
      }[];
    }>(config(), 'GET', '/approvals');
    print(answer, (a) =>
      table(
        ['MODEL', 'RUN', 'FOR', 'CANDIDATE', 'DEADLINE', 'YOU'],
        a.approvals.map((x) => [
          x.model,
          x.runId,
          x.purpose,
          x.candidateVersion === null ? null : `v${x.candidateVersion}`,
          x.deadline,
          x.youMayDecide ? 'may decide' : x.whyNot,
        ]),
      ),
    );
  });

program
  .command('token')
  .description('where the CLI finds the API and its token (the token itself is not printed)')
  .action(async () => {
    const env = process.env;
    const c = config();
    const source = globals().token
      ? '--token'
      : env.CTLOOP_TOKEN
        ? 'CTLOOP_TOKEN'
        : c.token
          ? configFilePath()
          : null;
    print(
      {
        apiUrl: c.apiUrl,
        token: c.token ? `${c.token.slice(0, 8)}…` : null,
        tokenFrom: source,
        configFile: configFilePath(),
      },
      (a) =>
        [
          `api     ${a.apiUrl}`,
          `token   ${a.token ?? 'none (set CTLOOP_TOKEN or the config file)'}${a.tokenFrom ? ` from ${a.tokenFrom}` : ''}`,
          `config  ${a.configFile}`,
        ].join('\n'),
    );
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has printed its message (or the help); its code says which.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof CliError) {
    process.stderr.write(`ctloop: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`ctloop: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
