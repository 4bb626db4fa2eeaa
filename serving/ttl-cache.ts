/**
 * A small read-through cache for the serving hot path: each key's value is
 * loaded once (concurrent callers share the load) and reused for `ttlMs`; a
 * failed load is forgotten at once. At most `maxEntries` keys are kept (the
 * oldest go first), so lookups of made-up names cannot grow it without bound.
 */
export interface TtlCache<K, V> {
  get(key: K): Promise<V>;
  delete(key: K): void;
  /** Drops every key for which `match` is true. */
  deleteWhere(match: (key: K) => boolean): void;
  readonly size: number;
}

export function createTtlCache<K, V>(opts: {
  load(key: K): Promise<V>;
  ttlMs: number;
  maxEntries?: number;
  now?: () => number;
}): TtlCache<K, V> {
  const now = opts.now ?? (() => performance.now());
  const maxEntries = opts.maxEntries ?? 10_000;
  const entries = new Map<K, { value: Promise<V>; at: number }>();
  return {
    get(key) {
      const hit = entries.get(key);
      if (hit && now() - hit.at < opts.ttlMs) return hit.value;
      entries.delete(key);
      const value = opts.load(key);
      entries.set(key, { value, at: now() });
      value.catch(() => {
        if (entries.get(key)?.value === value) entries.delete(key);
      });
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value as K);
      return value;
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
