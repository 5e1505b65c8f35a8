import { defineConfig } from 'vitest/config';

/**
 * Sized for the 2-core machines the suite runs on (CI included). Two forked workers keep both cores
 * busy without oversubscribing them (several files spawn servers or CLI processes of their own).
 * Timeouts leave room for a loaded machine: a test that hangs still fails, with its name, rather
 * than the run failing on its own bookkeeping.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    reporters: ['default'],
  },
});
