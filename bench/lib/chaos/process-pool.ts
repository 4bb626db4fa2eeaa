import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export type ProcessRole = 'api' | 'control' | 'train';

const ENTRY: Record<ProcessRole, string> = {
  api: 'api/server.ts',
  control: 'workers/control.ts',
  train: 'workers/train.ts',
};
/** The log line each process writes once it serves (API) or polls (workers). */
const READY: Record<ProcessRole, RegExp> = {
  api: /ctloop API listening/,
  control: /worker polling/,
  train: /worker polling/,
};

/** A process that ended without being told to, and what it said last. */
export interface UnpromptedExit {
  readonly name: string;
  readonly at: string;
  /** Whether it had become ready (a crash while serving) or died during start-up. */
  readonly whileRunning: boolean;
  readonly code: number | null;
  readonly signal: string | null;
  readonly logTail: string;
}

export interface Member {
  readonly name: string;
  readonly role: ProcessRole;
  readonly env: Record<string, string>;
  child: ChildProcess | null;
  ready: boolean;
  /** Set while the pool itself kills it, so its exit is not counted as a crash. */
  killing: boolean;
  tail: string;
  log: WriteStream;
}

/**
 * ctloop's processes as a supervisor runs them (docker's `restart:
 * unless-stopped`): each is restarted when it exits, and every exit the soak
 * did not cause is recorded with its last words. Each process is plain node
 * with tsx's loader, so SIGKILL takes it down at once, like a lost machine.
 */
export class ProcessPool {
  readonly members = new Map<string, Member>();
  readonly unpromptedExits: UnpromptedExit[] = [];
  private stopping = false;

  constructor(
    private readonly baseEnv: NodeJS.ProcessEnv,
    private readonly logDir: string,
    private readonly readyTimeoutMs = 300_000,
  ) {}

  add(name: string, role: ProcessRole, env: Record<string, string> = {}): Member {
    const member: Member = {
      name,
      role,
      env,
      child: null,
      ready: false,
      killing: false,
      tail: '',
      log: createWriteStream(path.join(this.logDir, `${name}.log`), { flags: 'a' }),
    };
    this.members.set(name, member);
    return member;
  }

  /** Starts the process and resolves once it is ready (restarting it when it dies on the way). */
  async start(name: string): Promise<void> {
    const m = this.member(name);
    // Each attempt gets the whole allowance (a control worker bundles its workflows at start-up,
    // which takes a while on a busy machine); a process that keeps dying gets three.
    const giveUp = Date.now() + 3 * this.readyTimeoutMs;
    for (;;) {
      const exited = this.spawn(m);
      const outcome = await Promise.race([
        exited.then(() => 'exited' as const),
        this.waitReady(m, Date.now() + this.readyTimeoutMs).then(() => 'ready' as const),
      ]);
      if (outcome === 'ready') return;
      if (this.stopping) return;
      if (Date.now() > giveUp) throw new Error(`${name} did not start in time:\n${m.tail.slice(-4000)}`);
      await sleep(1_000); // like a supervisor's restart delay
    }
  }

  /** kill -9, then a replacement; resolves with the seconds from the kill to the replacement being ready. */
  async killAndRestart(name: string): Promise<number> {
    const m = this.member(name);
    const killedAt = Date.now();
    await this.kill(m, 'SIGKILL');
    await this.start(name);
    return (Date.now() - killedAt) / 1000;
  }

  /** Whether every process is up and ready. */
  allReady(): boolean {
    return [...this.members.values()].every((m) => m.ready && m.child?.exitCode === null);
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.members.values()].map((m) => this.kill(m, 'SIGTERM', 15_000)));
    for (const m of this.members.values()) m.log.end();
  }

  private member(name: string): Member {
    const m = this.members.get(name);
    if (!m) throw new Error(`no process ${name}`);
    return m;
  }

  private spawn(m: Member): Promise<void> {
    m.ready = false;
    m.killing = false;
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY[m.role]], {
      cwd: root,
      env: { ...this.baseEnv, ...m.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    m.child = child;
    const onData = (d: Buffer) => {
      const s = d.toString();
      m.tail = (m.tail + s).slice(-16_000);
      m.log.write(s);
      if (!m.ready && READY[m.role].test(m.tail)) m.ready = true;
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    return new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        process.off('exit', killOnExit);
        m.log.write(`\n--- exited: code ${code} signal ${signal} ---\n`);
        const wasReady = m.ready;
        m.ready = false;
        if (!m.killing && !this.stopping) {
          this.unpromptedExits.push({
            name: m.name,
            at: new Date().toISOString(),
            whileRunning: wasReady,
            code,
            signal,
            logTail: m.tail.slice(-3_000),
          });
          // A crash while serving: the supervisor brings it back, as for a kill.
          if (wasReady) {
            void sleep(1_000)
              .then(() => (this.stopping ? undefined : this.start(m.name)))
              .catch((err) => console.error(`chaos: ${m.name} did not come back: ${err}`));
          }
        }
        resolve();
      });
    });
  }

  /** Resolves when the process is ready; past the deadline it is killed, and its exit decides. */
  private async waitReady(m: Member, deadline: number): Promise<void> {
    const child = m.child;
    while (!m.ready) {
      if (child !== m.child || child?.exitCode !== null || child?.signalCode !== null) {
        return new Promise(() => {}); // it exited: the caller's race has its answer
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        return new Promise(() => {});
      }
      await sleep(100);
    }
  }

  private async kill(m: Member, signal: NodeJS.Signals, graceMs = 0): Promise<void> {
    const child = m.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    m.killing = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    if (graceMs > 0) {
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    } else {
      await exited;
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
