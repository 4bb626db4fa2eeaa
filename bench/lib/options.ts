/** A positive number from `--<name> <value>` on the command line, or `fallback`; `bench` names the script in errors. */
export function positiveOption(bench: string, name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${bench}: --${name} must be positive`);
  return value;
}

/** A comma-separated subset of `allowed` from `--<name> a,b`, or all of them; `bench` names the script in errors. */
export function listOption<T extends string>(
  bench: string,
  name: string,
  allowed: readonly T[],
): readonly T[] {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return allowed;
  const picked = (process.argv[i + 1] ?? '').split(',').filter((x) => x !== '');
  const unknown = picked.filter((x) => !(allowed as readonly string[]).includes(x));
  if (picked.length === 0 || unknown.length > 0)
    throw new Error(`${bench}: --${name} takes a comma-separated list of ${allowed.join(', ')}`);
  return allowed.filter((x) => picked.includes(x));
}
