import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServableModel } from '../domain/servable-model';

/**
 * An external model server speaking the Open Inference Protocol (KServe V2:
 * MLServer, Triton, KServe, Seldon). ctloop puts each version it serves in
 * the server's model repository (a folder the server reads: `model.json`,
 * the artifact, and `model-settings.json` naming ctloop's runtime,
 * serving/mlserver/ctloop_runtime.py) and asks the server to load it; a
 * version is its own server model, `<model>--v<version>`, because V2 servers
 * report readiness by model name. The server's repository folder keeps what
 * was loaded, so a restarted server loads it again by itself.
 */
export interface V2Server {
  readonly url: string;
  /** Writes the version into the repository and loads it; resolves when the server answers ready. */
  load(model: string, version: number, artifact: ServableModel): Promise<void>;
  /** Unloads the version and removes it from the repository (a restarted server does not load it again). */
  unload(model: string, version: number): Promise<void>;
  /** The model's versions in the repository: what ctloop has loaded and not unloaded. */
  loaded(model: string): Promise<number[]>;
  /** P(label = 1) for rows in the artifact's feature order (null: missing). */
  infer(model: string, version: number, rows: readonly (readonly (number | null)[])[]): Promise<number[]>;
}

/** A refusal or an outage of the model server, with what it said. */
export class V2ServerError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

export const v2ModelName = (model: string, version: number) => `${model}--v${version}`;

/** The runtime module MLServer imports (`ctloop_runtime.CtloopModel`), on the server's PYTHONPATH. */
export const CTLOOP_RUNTIME_DIR = path.dirname(
  fileURLToPath(new URL('./mlserver/ctloop_runtime.py', import.meta.url)),
);

export function createV2Server(opts: { url: string; repository: string; timeoutMs?: number }): V2Server {
  const base = opts.url.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 10_000;

  const target = new URL(base);
  const transport = target.protocol === 'https:' ? https : http;
  /**
   * Kept-alive connections, reused by every prediction. `fetch` with an abort
   * timer per call made the gateway's forward cost more than the server's
   * own answer (bench/gateway-v2.ts at 200/s, medians of 3 runs: p50 6.7 →
   * 5.3 ms and p99 20.1 → 12.5 ms with this agent; MLServer direct p50 3.8,
   * p99 6.6 ms). Idle connections close after 4 s, before a server's usual
   * 5 s keep-alive (uvicorn's) would close them under a request.
   */
  const agent = new transport.Agent({ keepAlive: true, maxSockets: 256, timeout: 4_000 });

  /** One HTTP exchange: the status and the body, or the reason it failed (a code such as ECONNREFUSED). */
  const exchange = (method: 'GET' | 'POST', route: string, payload: string | undefined, retried = false) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = transport.request(
        {
          agent,
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          path: `${target.pathname.replace(/\/+$/, '')}${route}`,
          method,
          headers:
            payload === undefined
              ? undefined
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            clearTimeout(deadline);
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', fail);
        },
      );
      const deadline = setTimeout(
        () => req.destroy(Object.assign(new Error('timed out'), { code: 'TimeoutError' })),
        timeoutMs,
      );
      let failed = false;
      function fail(err: Error & { code?: string }) {
        // The request and its response may both report one broken connection: act once.
        if (failed) return;
        failed = true;
        clearTimeout(deadline);
        // A kept-alive connection the server closed just as it was reused: once more on a fresh one.
        if (req.reusedSocket && err.code === 'ECONNRESET' && !retried)
          exchange(method, route, payload, true).then(resolve, reject);
        else reject(err);
      }
      req.on('error', fail);
      req.end(payload);
    });

  const call = async (method: 'GET' | 'POST', route: string, body?: unknown) => {
    let res: { status: number; text: string };
    try {
      res = await exchange(method, route, body === undefined ? undefined : JSON.stringify(body));
    } catch (err) {
      const cause = (err as { code?: string }).code ?? (err as Error).name;
      throw new V2ServerError(`model server ${base} unreachable (${cause})`, null);
    }
    const { status, text } = res;
    if (status < 200 || status >= 300) {
      let detail = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { error?: string; detail?: string };
        detail = parsed.error ?? parsed.detail ?? detail;
      } catch {
        // not JSON: keep the text
      }
      throw new V2ServerError(`model server answered ${status} to ${method} ${route}: ${detail}`, status);
    }
    return text ? (JSON.parse(text) as unknown) : null;
  };

  return {
    url: base,
    async load(model, version, artifact) {
      const name = v2ModelName(model, version);
      const dir = path.join(opts.repository, name);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'model.json'), JSON.stringify(artifact));
      await writeFile(
        path.join(dir, 'model-settings.json'),
        JSON.stringify({
          name,
          implementation: 'ctloop_runtime.CtloopModel',
          parameters: { uri: path.join(dir, 'model.json') },
        }),
      );
      await call('POST', `/v2/repository/models/${encodeURIComponent(name)}/load`);
      await call('GET', `/v2/models/${encodeURIComponent(name)}/ready`);
    },
    async unload(model, version) {
      const name = v2ModelName(model, version);
      // Out of the repository first: whatever the server answers, a restart does not bring it back.
      await rm(path.join(opts.repository, name), { recursive: true, force: true });
      await call('POST', `/v2/repository/models/${encodeURIComponent(name)}/unload`).catch((err: unknown) => {
        if (!(err instanceof V2ServerError && (err.status === 404 || err.status === 400))) throw err; // not loaded
      });
    },
    async loaded(model) {
      const prefix = `${model}--v`;
      const names = await readdir(opts.repository).catch(() => [] as string[]);
      return names
        .filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
        .map((n) => Number(n.slice(prefix.length)))
        .sort((a, b) => a - b);
    },
    async infer(model, version, rows) {
      const width = rows[0]?.length ?? 0;
      const answer = (await call(
        'POST',
        `/v2/models/${encodeURIComponent(v2ModelName(model, version))}/infer`,
        {
          inputs: [{ name: 'features', shape: [rows.length, width], datatype: 'FP64', data: rows.flat() }],
        },
      )) as { outputs?: { name: string; data: unknown }[] } | null;
      const data = answer?.outputs?.find((o) => o.name === 'probability')?.data;
      if (
        !Array.isArray(data) ||
        data.length !== rows.length ||
        !data.every((p) => typeof p === 'number' && p >= 0 && p <= 1)
      ) {
        throw new V2ServerError(
          `model server gave no probability per row: ${JSON.stringify(answer).slice(0, 300)}`,
          null,
        );
      }
      return data as number[];
    },
  };
}
