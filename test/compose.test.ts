/**
 * docker-compose.yml cannot be run here (no Docker engine), so this checks that
 * it is consistent: with config/env.ts, with itself (addresses, credentials,
 * volumes, dependencies) and with the repository (entry points exist).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configVariables, loadConfig } from '../config/env';
import { DYNAMIC_CONFIG, SEARCH_ATTRIBUTES } from '../scripts/temporal-dev-server';

const root = fileURLToPath(new URL('..', import.meta.url));
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as Compose;

interface Service {
  image?: string;
  build?: string | { context?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number | { target: number; published?: number | string })[];
  expose?: (string | number)[];
  volumes?: (string | { type?: string; source?: string; target: string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  configs?: Record<string, { content?: string; file?: string }>;
}

const CTLOOP_SERVICES = ['ctloop-api', 'ctloop-worker-control', 'ctloop-worker-train'] as const;

function service(name: string): Service {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
}

function env(s: Service): Record<string, string> {
  const e = s.environment ?? {};
  if (Array.isArray(e)) {
    return Object.fromEntries(
      e.map((kv) => {
        const i = kv.indexOf('=');
        return i < 0 ? [kv, ''] : [kv.slice(0, i), kv.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v == null ? '' : String(v)]));
}

/** Container-side ports a service publishes or exposes. */
function containerPorts(s: Service): number[] {
  const out: number[] = [];
  for (const p of s.ports ?? []) {
    if (typeof p === 'object') out.push(Number(p.target));
    else out.push(Number(String(p).split('/')[0]!.split(':').pop()));
  }
  for (const p of s.expose ?? []) out.push(Number(String(p).split('/')[0]));
  return out;
}

/** [published, container] pairs of `ports`. */
function publishedPorts(s: Service): [number, number][] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === 'object') return [Number(p.published ?? p.target), Number(p.target)];
    const parts = String(p).split('/')[0]!.split(':');
    const container = Number(parts.pop());
    return [Number(parts.pop() ?? container), container];
  });
}

function dependencies(s: Service): Record<string, string | undefined> {
  const d = s.depends_on ?? {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((n) => [n, undefined]));
  return Object.fromEntries(Object.entries(d).map(([n, v]) => [n, v?.condition]));
}

const words = (x: string | string[] | undefined): string[] =>
  x === undefined ? [] : Array.isArray(x) ? x.map(String) : x.split(/\s+/);

function volumeMounts(s: Service): { source?: string; target: string }[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v === 'object') return { source: v.source, target: v.target };
    const [source, target] = v.split(':');
    return target === undefined ? { target: source! } : { source, target };
  });
}

describe('docker-compose.yml', () => {
  it('has the Temporal, UI, database and ctloop services', () => {
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'ctloop-db', ...CTLOOP_SERVICES]) {
      expect(compose.services, name).toHaveProperty([name]);
    }
  });

  it('ctloop services only set variables that config/env.ts knows, with values it accepts', () => {
    for (const name of CTLOOP_SERVICES) {
      const e = env(service(name));
      const unknown = Object.keys(e).filter((k) => !(k in configVariables));
      expect(unknown, `${name} sets variables missing from configVariables`).toEqual([]);
      for (const required of [
        'TEMPORAL_ADDRESS',
        'TEMPORAL_NAMESPACE',
        'DATABASE_URL',
        'CTLOOP_ARTIFACTS_DIR',
      ]) {
        expect(e, `${name} must set ${required}`).toHaveProperty([required]);
      }
      expect(() => loadConfig(e), name).not.toThrow();
    }
  });

  it('all ctloop services agree on Temporal, task queues and the database', () => {
    const keys = [
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'DATABASE_URL',
      'CTLOOP_TASK_QUEUE',
      'CTLOOP_TRAIN_TASK_QUEUE',
      'CTLOOP_ARTIFACTS_DIR',
    ];
    const [first, ...rest] = CTLOOP_SERVICES.map((n) => env(service(n)));
    for (const e of rest) {
      for (const k of keys) expect(e[k], k).toBe(first![k]);
    }
  });

  it('publishes the API on the port it listens on (PORT)', () => {
    const api = service('ctloop-api');
    const port = Number(env(api).PORT);
    expect(port).toBeGreaterThan(0);
    const published = publishedPorts(api);
    expect(published.map(([, container]) => container)).toContain(port);
    expect(published.find(([, container]) => container === port)?.[0]).toBe(port);
  });

  it('points TEMPORAL_ADDRESS at a service that exposes that port', () => {
    const users = [...CTLOOP_SERVICES, 'temporal-ui'];
    for (const name of users) {
      const address = env(service(name)).TEMPORAL_ADDRESS;
      expect(address, name).toMatch(/^[a-z0-9-]+:\d+$/);
      const [host, port] = address!.split(':');
      expect(Object.keys(compose.services), `${name}: TEMPORAL_ADDRESS host`).toContain(host);
      expect(containerPorts(service(host!)), `${name}: ${host} must expose ${port}`).toContain(Number(port));
    }
  });

  it('points DATABASE_URL at ctloop-db with its credentials', () => {
    const db = env(service('ctloop-db'));
    for (const name of CTLOOP_SERVICES) {
      const url = new URL(env(service(name)).DATABASE_URL!);
      expect(url.protocol).toMatch(/^postgres(ql)?:$/);
      expect(url.hostname, name).toBe('ctloop-db');
      expect(Number(url.port || 5432), name).toBe(5432);
      expect(decodeURIComponent(url.username), name).toBe(db.POSTGRES_USER);
      expect(decodeURIComponent(url.password), name).toBe(db.POSTGRES_PASSWORD);
      expect(url.pathname.slice(1), name).toBe(db.POSTGRES_DB);
    }
  });

  it('mounts one shared artifacts volume at CTLOOP_ARTIFACTS_DIR in the API and both workers', () => {
    const sources = CTLOOP_SERVICES.map((name) => {
      const s = service(name);
      const dir = env(s).CTLOOP_ARTIFACTS_DIR!;
      expect(path.posix.isAbsolute(dir), `${name}: CTLOOP_ARTIFACTS_DIR must be absolute`).toBe(true);
      const mount = volumeMounts(s).find((m) => m.target === dir);
      expect(mount, `${name} mounts nothing at ${dir}`).toBeDefined();
      return mount!.source;
    });
    expect(new Set(sources).size).toBe(1);
    const volume = sources[0]!;
    expect(compose.volumes ?? {}, 'artifacts must be a named volume').toHaveProperty([volume]);
  });

  it('runs entry points that exist in the repository, from the Dockerfile build', () => {
    expect(existsSync(path.join(root, 'Dockerfile'))).toBe(true);
    const expected: Record<string, string> = {
      'ctloop-api': 'api/server.ts',
      'ctloop-worker-control': 'workers/control.ts',
      'ctloop-worker-train': 'workers/train.ts',
    };
    for (const name of CTLOOP_SERVICES) {
      const s = service(name);
      expect(s.build ?? s.image, `${name} needs build or image`).toBeDefined();
      const files = words(s.command).filter((w) => /\.[cm]?[jt]s$/.test(w));
      expect(files, name).toContain(expected[name]);
      for (const f of files)
        expect(existsSync(path.join(root, f)), `${name}: ${f} does not exist`).toBe(true);
    }
  });

  it('starts ctloop only after Temporal, its search attributes and the database are ready', () => {
    const registrar = Object.entries(compose.services).find(([, s]) =>
      [...words(s.entrypoint), ...words(s.command)].join(' ').includes('search-attribute create'),
    );
    expect(registrar, 'a service must register the search attributes').toBeDefined();
    const [registrarName, registrarService] = registrar!;
    const script = [...words(registrarService.entrypoint), ...words(registrarService.command)].join(' ');
    for (const [sa, type] of Object.entries(SEARCH_ATTRIBUTES)) {
      expect(script, `search attribute ${sa}`).toContain(sa);
      expect(script).toContain(type);
    }
    expect(dependencies(registrarService)).toHaveProperty(['temporal']);

    for (const name of CTLOOP_SERVICES) {
      const deps = dependencies(service(name));
      expect(deps[registrarName], name).toBe('service_completed_successfully');
      expect(deps.temporal, name).toBe('service_healthy');
      expect(deps['ctloop-db'], name).toBe('service_healthy');
    }
    for (const name of ['temporal', 'ctloop-db', 'postgresql']) {
      expect(service(name).healthcheck?.test, `${name} healthcheck`).toBeDefined();
    }
  });

  it("runs Prometheus with the shipped alert rules, scraping the API's /metrics and the workers'", () => {
    const prometheus = service('prometheus');
    const args = words(prometheus.command);
    const configPath = args.find((a) => a.startsWith('--config.file='))?.split('=')[1];
    expect(configPath, 'prometheus needs --config.file').toBeDefined();
    const mounts = volumeMounts(prometheus);
    // A mount of a repository file: its source on the host, read from the repo as Prometheus would.
    const hostFile = (target: string) => {
      const mount = mounts.find((m) => m.target === target);
      expect(mount, `prometheus mounts nothing at ${target}`).toBeDefined();
      expect(mount!.source, `${target} must come from the repository`).toMatch(/^\.\//);
      const file = path.join(root, mount!.source!);
      expect(existsSync(file), `${mount!.source} does not exist`).toBe(true);
      return file;
    };
    const config = parse(readFileSync(hostFile(configPath!), 'utf8')) as {
      rule_files?: string[];
      scrape_configs?: { static_configs?: { targets?: string[] }[] }[];
    };
    const ruleFiles = (config.rule_files ?? []).map(hostFile);
    expect(ruleFiles).toContain(path.join(root, 'observability', 'alert-rules.yml'));
    const targets = (config.scrape_configs ?? []).flatMap((c) =>
      (c.static_configs ?? []).flatMap((s) => s.targets ?? []),
    );
    expect(targets).toContain(`ctloop-api:${env(service('ctloop-api')).PORT}`);
    // Every worker that serves the SDK's metrics is scraped, on the port it serves them on.
    const workers = Object.keys(compose.services).filter((n) => env(service(n)).CTLOOP_WORKER_METRICS);
    expect(workers).toEqual(expect.arrayContaining(['ctloop-worker-control', 'ctloop-worker-train']));
    for (const name of workers) {
      const port = env(service(name)).CTLOOP_WORKER_METRICS!.split(':').at(-1);
      expect(targets).toContain(`${name}:${port}`);
    }
  });

  it('runs the Temporal server on Postgres with the dev server dynamic config', () => {
    const temporal = service('temporal');
    const e = env(temporal);
    expect(e.DB).toMatch(/^postgres/);
    expect(Object.keys(compose.services)).toContain(e.POSTGRES_SEEDS);
    const pg = env(service(e.POSTGRES_SEEDS!));
    expect(e.POSTGRES_USER).toBe(pg.POSTGRES_USER);
    expect(e.POSTGRES_PWD).toBe(pg.POSTGRES_PASSWORD);
    const content = Object.values(compose.configs ?? {})
      .map((c) => c.content ?? '')
      .join('\n');
    const dynamic = parse(content) as Record<string, { value: unknown }[]>;
    for (const [key, value] of Object.entries(DYNAMIC_CONFIG)) {
      expect(dynamic?.[key]?.[0]?.value, key).toEqual(value);
    }
  });
});
