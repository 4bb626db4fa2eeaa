import { type FixedPacedLoad, runPacedLoad } from './paced-load';

/**
 * `pacedLoadWithCpu`'s load generator in its own process: reads a
 * FixedPacedLoad as JSON from argv[2], runs it, prints the PacedLoadFigures.
 */
async function main() {
  const { url, body, ...load } = JSON.parse(process.argv[2] ?? '') as FixedPacedLoad;
  const target = new URL(url);
  const figures = await runPacedLoad({
    ...load,
    origin: target.origin,
    request: () => ({ path: target.pathname, body }),
  });
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
