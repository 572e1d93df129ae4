import { defineConfig } from 'vitest/config';

// The harness's own tests (pure parsing and table code); run with
//   npx vitest run --config bench/vitest.config.ts
export default defineConfig({
  test: {
    root: '.',
    include: ['bench/test/**/*.test.ts'],
    testTimeout: 20_000,
  },
});
