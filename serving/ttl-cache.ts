/**
 * A small read-through cache for the serving hot path: each key's value is
 * loaded once (concurrent callers share the load) and reused for `ttlMs`; a
 * failed load is forgotten at once. At most `maxEntries` keys are kept (the
 * oldest go first), so lookups of made-up names cannot grow it without bound.
 *
 * Refresh ahead: a key read in the last quarter of its life is loaded again
 * in the background while callers keep getting the cached value, so a busy
 * key never expires under its callers (before, every request that came
 * while an expired key reloaded waited for the database: once a second per
 * model, a few requests each time, which is where the gateway's p99 went).
 * A value is never older than `ttlMs` counted from when its load started:
 * if the background load has not answered by then (or failed), the next
 * caller loads it as on a miss.
 */
export interface TtlCache<K, V> {
  get(key: K): Promise<V>;
  delete(key: K): void;
  /** Drops every key for which `match` is true. */
  deleteWhere(match: (key: K) => boolean): void;
  readonly size: number;
}

interface Entry<V> {
  readonly value: Promise<V>;
  /** When its load started. */
  readonly at: number;
  refreshing: boolean;
}

/** The share of a value's life after which a read starts its background refresh. */
const REFRESH_AFTER = 0.75;

export function createTtlCache<K, V>(opts: {
  load(key: K): Promise<V>;
  ttlMs: number;
  maxEntries?: number;
  now?: () => number;
}): TtlCache<K, V> {
  const now = opts.now ?? (() => performance.now());
  const maxEntries = opts.maxEntries ?? 10_000;
  const entries = new Map<K, Entry<V>>();

  /** Starts a load of `key`; the entry it makes replaces `replacing` (if any) once the load succeeds. */
  const load = (key: K, replacing: Entry<V> | null): Entry<V> => {
    const entry: Entry<V> = { value: opts.load(key), at: now(), refreshing: false };
    entry.value.then(
      () => {
        // Unless the key was deleted (or reloaded) meanwhile.
        if (replacing && entries.get(key) === replacing) entries.set(key, entry);
      },
      () => {
        if (replacing) replacing.refreshing = false;
        else if (entries.get(key) === entry) entries.delete(key);
      },
    );
    return entry;
  };

  return {
    get(key) {
      const hit = entries.get(key);
      const age = hit ? now() - hit.at : Number.POSITIVE_INFINITY;
      if (hit && age < opts.ttlMs) {
        if (age >= opts.ttlMs * REFRESH_AFTER && !hit.refreshing) {
          hit.refreshing = true;
          load(key, hit);
        }
        return hit.value;
      }
      entries.delete(key);
      const entry = load(key, null);
      entries.set(key, entry);
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value as K);
      return entry.value;
    },
    delete(key) {
      entries.delete(key);
    },
    deleteWhere(match) {
      for (const key of [...entries.keys()]) if (match(key)) entries.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}
