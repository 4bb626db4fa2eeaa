/**
 * ctloop's versions in an MLflow Model Registry (CTLOOP_MLFLOW_URI), for
 * teams whose platform already reads MLflow. Every candidate becomes an
 * MLflow model version of the registered model with the same name: an MLflow
 * run in experiment `ctloop/<model>` carries the artifact (`model/model.json`),
 * the training parameters and metrics, and tags (ctloop model, version, run
 * id, data hash, evaluation report hash, trigger causes); the version is
 * created from `runs:/<run>/model`. The alias `champion` follows ctloop's
 * promotions and rollbacks (aliases, not the deprecated stages).
 *
 * Idempotent under retries and restarts: the MLflow run is found again by its
 * `ctloop.run_id` tag, and the model version by that run, before anything is
 * created; setting an alias to where it points already changes nothing.
 * REST only (MLflow 3.x, `mlflow server` with its artifact proxy).
 */
export interface MlflowRegistry {
  readonly uri: string;
  /** Registers ctloop's version (or finds it registered) and returns MLflow's version number. */
  registerVersion(input: {
    model: string;
    version: number;
    runId: string;
    artifact: string;
    params: Record<string, unknown>;
    metrics: Record<string, number>;
    tags: Record<string, string>;
  }): Promise<{ name: string; version: string; runId: string }>;
  /** Points alias `champion` at ctloop's `version`, or removes it (null). */
  setChampion(model: string, version: number | null): Promise<void>;
  /** MLflow's version number for ctloop's version, or null when it is not registered there. */
  findVersion(model: string, version: number): Promise<string | null>;
  /** Sets tags on ctloop's version in MLflow (e.g. its evaluation); no-op when it is not registered there. */
  tagVersion(model: string, version: number, tags: Record<string, string>): Promise<void>;
  /**
   * A version someone else registered: its tags, its MLflow run and the
   * `model.json` in its model folder (ctloop's artifact format).
   */
  fetchVersion(
    model: string,
    mlflowVersion: string,
  ): Promise<{ runId: string | null; tags: Record<string, string>; artifact: string }>;
  /** Every version of the registered model with its tags, oldest first ([] when there is no such model). */
  listVersions(model: string): Promise<{ version: string; tags: Record<string, string> }[]>;
  /** Sets tags on an MLflow version by its MLflow number. */
  setVersionTags(model: string, mlflowVersion: string, tags: Record<string, string>): Promise<void>;
  /** Marks an MLflow version as ctloop's `version` of run `runId` (tags), so that alias moves find it. */
  adoptVersion(model: string, mlflowVersion: string, version: number, runId: string): Promise<void>;
}

export class MlflowError extends Error {
  constructor(
    message: string,
    readonly code: string | null,
  ) {
    super(message);
  }
}

export const CHAMPION_ALIAS = 'champion';

export function createMlflowRegistry(opts: { uri: string; timeoutMs?: number }): MlflowRegistry {
  const base = opts.uri.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 15_000;

  const call = async <T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    route: string,
    body?: unknown,
    raw?: string,
  ): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(`${base}${route}`, {
        method,
        headers:
          raw !== undefined
            ? { 'content-type': 'application/json' }
            : body === undefined
              ? undefined
              : { 'content-type': 'application/json' },
        body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new MlflowError(`MLflow ${base} unreachable (${cause})`, null);
    }
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!res.ok) {
      const code = typeof parsed.error_code === 'string' ? parsed.error_code : null;
      throw new MlflowError(
        `MLflow answered ${res.status} to ${method} ${route.split('?')[0]}: ${String(parsed.message ?? text).slice(0, 300)}`,
        code,
      );
    }
    return parsed as T;
  };
  const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
  const quote = (v: string) => `'${v.replace(/'/g, "\\'")}'`;

  const experimentId = async (model: string): Promise<string> => {
    const name = `ctloop/${model}`;
    try {
      const found = await call<{ experiment: { experiment_id: string } }>(
        'GET',
        `/api/2.0/mlflow/experiments/get-by-name?${q({ experiment_name: name })}`,
      );
      return found.experiment.experiment_id;
    } catch (err) {
      if (!(err instanceof MlflowError) || err.code !== 'RESOURCE_DOES_NOT_EXIST') throw err;
    }
    try {
      return (await call<{ experiment_id: string }>('POST', '/api/2.0/mlflow/experiments/create', { name }))
        .experiment_id;
    } catch (err) {
      // Created meanwhile by a retry or another worker.
      if (err instanceof MlflowError && err.code === 'RESOURCE_ALREADY_EXISTS') return experimentId(model);
      throw err;
    }
  };

  /** The MLflow run that holds ctloop's version, by its tags. */
  const findRun = async (experiment: string, filter: string) => {
    const found = await call<{ runs?: { info: { run_id: string; artifact_uri: string; status: string } }[] }>(
      'POST',
      '/api/2.0/mlflow/runs/search',
      { experiment_ids: [experiment], filter, max_results: 1 },
    );
    return found.runs?.[0]?.info ?? null;
  };

  const versionOfRun = async (model: string, mlflowRunId: string): Promise<string | null> => {
    const found = await call<{ model_versions?: { version: string }[] }>(
      'GET',
      `/api/2.0/mlflow/model-versions/search?${q({ filter: `name=${quote(model)} and run_id=${quote(mlflowRunId)}` })}`,
    );
    return found.model_versions?.[0]?.version ?? null;
  };

  const registry: MlflowRegistry = {
    uri: base,
    async registerVersion(input) {
      const experiment = await experimentId(input.model);
      let run = await findRun(experiment, `tags.\`ctloop.run_id\` = ${quote(input.runId)}`);
      if (!run) {
        const tags = Object.entries({
          ...input.tags,
          'ctloop.run_id': input.runId,
          'ctloop.version': String(input.version),
        });
        const created = await call<{
          run: { info: { run_id: string; artifact_uri: string; status: string } };
        }>('POST', '/api/2.0/mlflow/runs/create', {
          experiment_id: experiment,
          run_name: `${input.model} v${input.version}`,
          start_time: Date.now(),
          tags: tags.map(([key, value]) => ({ key, value: value.slice(0, 5000) })),
        });
        run = created.run.info;
      }
      if (run.status !== 'FINISHED') {
        const now = Date.now();
        await call('POST', '/api/2.0/mlflow/runs/log-batch', {
          run_id: run.run_id,
          params: Object.entries(input.params)
            .slice(0, 100)
            .map(([key, value]) => ({
              key,
              value: String(typeof value === 'object' ? JSON.stringify(value) : value).slice(0, 6000),
            })),
          metrics: Object.entries(input.metrics)
            .filter(([, v]) => Number.isFinite(v))
            .map(([key, value]) => ({ key, value, timestamp: now, step: 0 })),
        }).catch((err: unknown) => {
          // A retry logs the same parameters again, which MLflow refuses as a change: they are there.
          if (!(err instanceof MlflowError && err.code === 'INVALID_PARAMETER_VALUE')) throw err;
        });
        // The artifact through the server's artifact proxy (mlflow-artifacts:/…).
        const location = run.artifact_uri.replace(/^mlflow-artifacts:\/?/, '').replace(/^\/+/, '');
        await call(
          'PUT',
          `/api/2.0/mlflow-artifacts/artifacts/${location}/model/model.json`,
          undefined,
          input.artifact,
        );
        await call('POST', '/api/2.0/mlflow/runs/update', {
          run_id: run.run_id,
          status: 'FINISHED',
          end_time: now,
        });
      }
      await call('POST', '/api/2.0/mlflow/registered-models/create', { name: input.model }).catch(
        (err: unknown) => {
          if (!(err instanceof MlflowError && err.code === 'RESOURCE_ALREADY_EXISTS')) throw err;
        },
      );
      const existing = await versionOfRun(input.model, run.run_id);
      if (existing) return { name: input.model, version: existing, runId: run.run_id };
      const created = await call<{ model_version: { version: string } }>(
        'POST',
        '/api/2.0/mlflow/model-versions/create',
        {
          name: input.model,
          source: `runs:/${run.run_id}/model`,
          run_id: run.run_id,
          tags: Object.entries({
            ...input.tags,
            'ctloop.run_id': input.runId,
            'ctloop.version': String(input.version),
          }).map(([key, value]) => ({ key, value: value.slice(0, 5000) })),
        },
      );
      return { name: input.model, version: created.model_version.version, runId: run.run_id };
    },

    async listVersions(model) {
      const all: { version: string; tags: Record<string, string> }[] = [];
      let pageToken: string | undefined;
      do {
        const page = await call<{
          model_versions?: { version: string; tags?: { key: string; value: string }[] }[];
          next_page_token?: string;
        }>(
          'GET',
          `/api/2.0/mlflow/model-versions/search?${q({ filter: `name=${quote(model)}`, max_results: '1000', ...(pageToken ? { page_token: pageToken } : {}) })}`,
        );
        for (const v of page.model_versions ?? []) {
          all.push({
            version: v.version,
            tags: Object.fromEntries((v.tags ?? []).map((t) => [t.key, t.value])),
          });
        }
        pageToken = page.next_page_token || undefined;
      } while (pageToken);
      return all.sort((a, b) => Number(a.version) - Number(b.version));
    },

    async findVersion(model, version) {
      // ctloop's own versions and adopted ones alike carry `ctloop.version`.
      const found = (await registry.listVersions(model)).find(
        (v) => v.tags['ctloop.version'] === String(version),
      );
      return found?.version ?? null;
    },

    async setVersionTags(model, mlflowVersion, tags) {
      for (const [key, value] of Object.entries(tags)) {
        await call('POST', '/api/2.0/mlflow/model-versions/set-tag', {
          name: model,
          version: mlflowVersion,
          key,
          value: value.slice(0, 5000),
        });
      }
    },

    async fetchVersion(model, mlflowVersion) {
      const { model_version: mv } = await call<{
        model_version: { run_id?: string; tags?: { key: string; value: string }[] };
      }>('GET', `/api/2.0/mlflow/model-versions/get?${q({ name: model, version: mlflowVersion })}`);
      let { artifact_uri: folder } = await call<{ artifact_uri: string }>(
        'GET',
        `/api/2.0/mlflow/model-versions/get-download-uri?${q({ name: model, version: mlflowVersion })}`,
      );
      // A `runs:/<run>/<path>` source: the folder is under that run's artifact location.
      const runSource = /^runs:\/([0-9a-f]+)\/(.*)$/.exec(folder);
      if (runSource) {
        const { run } = await call<{ run: { info: { artifact_uri: string } } }>(
          'GET',
          `/api/2.0/mlflow/runs/get?${q({ run_id: runSource[1]! })}`,
        );
        folder = `${run.info.artifact_uri.replace(/\/+$/, '')}/${runSource[2]}`;
      }
      if (!folder.startsWith('mlflow-artifacts:')) {
        throw new MlflowError(
          `version ${mlflowVersion} of ${model} is stored at ${folder}; ctloop reads mlflow-artifacts:/ (the server's artifact proxy)`,
          'UNSUPPORTED_SOURCE',
        );
      }
      const location = folder
        .replace(/^mlflow-artifacts:\/?/, '')
        .replace(/^\/+/, '')
        .replace(/\/+$/, '');
      let res: Response;
      try {
        res = await fetch(`${base}/api/2.0/mlflow-artifacts/artifacts/${location}/model.json`, {
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw new MlflowError(`MLflow ${base} unreachable (${(err as Error).name})`, null);
      }
      if (!res.ok) {
        throw new MlflowError(
          `version ${mlflowVersion} of ${model} has no model.json in ${folder} (HTTP ${res.status})`,
          'NO_ARTIFACT',
        );
      }
      return {
        runId: mv.run_id || null,
        tags: Object.fromEntries((mv.tags ?? []).map((t) => [t.key, t.value])),
        artifact: await res.text(),
      };
    },

    async adoptVersion(model, mlflowVersion, version, runId) {
      for (const [key, value] of Object.entries({
        'ctloop.version': String(version),
        'ctloop.run_id': runId,
      })) {
        await call('POST', '/api/2.0/mlflow/model-versions/set-tag', {
          name: model,
          version: mlflowVersion,
          key,
          value,
        });
      }
    },

    async tagVersion(model, version, tags) {
      const mlflowVersion = await registry.findVersion(model, version);
      if (mlflowVersion) await registry.setVersionTags(model, mlflowVersion, tags);
    },

    async setChampion(model, version) {
      if (version === null) {
        await call(
          'DELETE',
          `/api/2.0/mlflow/registered-models/alias?${q({ name: model, alias: CHAMPION_ALIAS })}`,
        ).catch((err: unknown) => {
          if (!(err instanceof MlflowError && err.code === 'RESOURCE_DOES_NOT_EXIST')) throw err;
        });
        return;
      }
      const mlflowVersion = await registry.findVersion(model, version);
      if (!mlflowVersion)
        throw new MlflowError(
          `version ${version} of ${model} is not registered in MLflow`,
          'RESOURCE_DOES_NOT_EXIST',
        );
      await call('POST', '/api/2.0/mlflow/registered-models/alias', {
        name: model,
        alias: CHAMPION_ALIAS,
        version: mlflowVersion,
      });
    },
  };
  return registry;
}
