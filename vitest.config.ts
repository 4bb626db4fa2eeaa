import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        // Pure domain code: no services.
        // Files run side by side on 2 cores: a CPU-heavy test gets room beyond the 5 s default.
        test: { name: 'unit', include: ['test/domain/**/*.test.ts', 'test/*.test.ts'], testTimeout: 30_000 },
      },
      {
        // End to end against a real Temporal dev server and a real database, started once in globalSetup.
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // The chaos soak's small variant is its own project (below).
          exclude: ['test/e2e/chaos-soak.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          // Files share one Temporal dev server and a 2-core machine: one file at a time.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        // Real policy durations (days) in seconds of wall time, on Temporal's time-skipping test server.
        test: {
          name: 'timeskip',
          include: ['test/timeskip/*.test.ts'],
          globalSetup: ['test/timeskip/global-setup.ts'],
          // Each file starts its own test server; one file at a time on a 2-core machine.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        // The chaos soak's small variant (bench/lib/chaos/soak.ts), part of `npm test` and alone as
        // `npm run test:chaos`. It starts its own Postgres and Temporal and kills processes with -9,
        // so it must not run beside other files on 2 cores. Vitest runs groups one after another:
        // group 0 (unit), this group 1, then the files of projects without file parallelism (e2e,
        // timeskip), one at a time.
        test: {
          name: 'chaos',
          include: ['test/e2e/chaos-soak.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          sequence: { groupOrder: 1 },
          testTimeout: 1_800_000,
        },
      },
      {
        // PyTorch is a large download: its own command (`npm run test:torch`), not part of `npm test`.
        test: { name: 'torch', include: ['test/torch/**/*.test.ts'], testTimeout: 600_000 },
      },
    ],
  },
});
