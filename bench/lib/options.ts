/** A positive number from `--<name> <value>` on the command line, or `fallback`; `bench` names the script in errors. */
export function positiveOption(bench: string, name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${bench}: --${name} must be positive`);
  return value;
}
