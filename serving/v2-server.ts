import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
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

  const call = async (method: 'GET' | 'POST', route: string, body?: unknown) => {
    let res: Response;
    try {
      res = await fetch(`${base}${route}`, {
        method,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new V2ServerError(`model server ${base} unreachable (${cause})`, null);
    }
    const text = await res.text();
    if (!res.ok) {
      let detail = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { error?: string; detail?: string };
        detail = parsed.error ?? parsed.detail ?? detail;
      } catch {
        // not JSON: keep the text
      }
      throw new V2ServerError(
        `model server answered ${res.status} to ${method} ${route}: ${detail}`,
        res.status,
      );
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
