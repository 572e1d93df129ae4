import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    globalSetup: ['test/helpers/built-cli.ts'],
    // Two files at a time even on a 2-core machine (vitest's default there is one): most of a
    // test's time is waiting on sockets, timers and child processes, so the suite's wall time
    // nearly halves while CPU time stays the same. Timing tests must hold on a machine this busy.
    maxWorkers: 2,
  },
});
