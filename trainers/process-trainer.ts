import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { type Trainer, TrainerError, type TrainResult } from './trainer';

/** Exit codes of the process protocol (docs/trainer-protocol.md). */
export const EXIT_PREEMPTED = 75;
export const EXIT_INVALID_PARAMS = 2;

const STDERR_TAIL_BYTES = 4_000;

const messageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('progress'),
    step: z.number().int().min(0),
    total: z.number().int().min(0),
    metrics: z.record(z.string(), z.number()).default({}),
  }),
  z.object({
    type: z.literal('checkpoint'),
    path: z.string().min(1),
    step: z.number().int().min(0),
    checksum: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  z.object({
    type: z.literal('done'),
    artifact: z.string().min(1),
    metrics: z.record(z.string(), z.number()).default({}),
  }),
]);

/**
 * Runs any program as a trainer: inputs by environment variables, JSON lines
 * on stdout, logs on stderr, and an exit code that tells success, preemption
 * and failure apart. Cancellation sends SIGTERM (the trainer checkpoints and
 * exits) and SIGKILL after the grace period.
 */
export function createProcessTrainer(opts: {
  name: string;
  command: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  graceMs?: number;
}): Trainer {
  const [program, ...args] = opts.command;
  if (!program) throw new Error(`process trainer ${opts.name}: empty command`);
  const graceMs = opts.graceMs ?? 10_000;

  return {
    name: opts.name,
    train(job) {
      return new Promise<TrainResult>((resolve, reject) => {
        const child = spawn(program, args, {
          cwd: opts.cwd,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            ...process.env,
            ...opts.env,
            CTLOOP_DATA: job.dataPath,
            CTLOOP_FEATURES: JSON.stringify(job.features),
            CTLOOP_LABEL: job.label,
            CTLOOP_PARAMS: JSON.stringify(job.params),
            CTLOOP_CHECKPOINT_DIR: job.checkpointDir,
            CTLOOP_CHECKPOINT_EVERY: String(job.checkpointEvery),
            CTLOOP_RESUME_FROM: job.resumeFrom?.path ?? '',
            CTLOOP_OUTPUT_DIR: job.outputDir,
            CTLOOP_DEVICE: job.device,
          },
        });
        let stderrTail = '';
        child.stderr.on('data', (chunk: Buffer) => {
          stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
        });
        let done: { artifact: string; metrics: Record<string, number> } | null = null;
        let lastStep = job.resumeFrom?.step ?? 0;
        let protocolError: string | null = null;
        // Checkpoints are handled one at a time, in order; the exit waits for the last one.
        let pending: Promise<void> = Promise.resolve();

        const fail = (message: string) => {
          protocolError ??= message;
          child.kill('SIGKILL');
        };
        createInterface({ input: child.stdout }).on('line', (line) => {
          if (line.trim() === '') return;
          let parsed: z.infer<typeof messageSchema>;
          try {
            parsed = messageSchema.parse(JSON.parse(line));
          } catch {
            fail(`trainer wrote a line that is not a protocol message: ${line.slice(0, 200)}`);
            return;
          }
          if (parsed.type === 'progress') {
            lastStep = parsed.step;
            job.onProgress(parsed);
          } else if (parsed.type === 'checkpoint') {
            const { path, step, checksum } = parsed;
            pending = pending
              .then(() => job.onCheckpoint({ path, step, checksum }))
              .catch((err) => fail(String(err)));
          } else {
            done = { artifact: parsed.artifact, metrics: parsed.metrics };
          }
        });

        let graceTimer: NodeJS.Timeout | undefined;
        const onAbort = () => {
          child.kill('SIGTERM');
          graceTimer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        };
        job.signal.addEventListener('abort', onAbort, { once: true });

        child.on('error', (err) => fail(`could not start ${program}: ${err.message}`));
        child.on('close', (code, signal) => {
          job.signal.removeEventListener('abort', onAbort);
          clearTimeout(graceTimer);
          void pending.then(() => {
            const exit = code ?? (signal ? `signal ${signal}` : 'unknown');
            if (job.signal.aborted) return reject(job.signal.reason ?? new Error('training cancelled'));
            if (protocolError) return reject(new TrainerError('crashed', protocolError, stderrTail, code));
            if (code === 0 && done) {
              return resolve({ artifactPath: done.artifact, steps: lastStep, metrics: done.metrics });
            }
            if (code === 0) {
              return reject(
                new TrainerError('crashed', 'trainer exited 0 without a done message', stderrTail, 0),
              );
            }
            if (code === EXIT_PREEMPTED) {
              return reject(
                new TrainerError('preempted', `trainer was preempted at step ${lastStep}`, stderrTail, code),
              );
            }
            if (code === EXIT_INVALID_PARAMS) {
              return reject(
                new TrainerError(
                  'invalid_params',
                  lastLine(stderrTail) || 'invalid hyper-parameters',
                  stderrTail,
                  code,
                ),
              );
            }
            reject(
              new TrainerError(
                'crashed',
                `trainer exited with ${exit} at step ${lastStep}`,
                stderrTail,
                code,
              ),
            );
          });
        });
      });
    },
  };
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}
