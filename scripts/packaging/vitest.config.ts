import { defineConfig } from 'vitest/config';

// The packaging test (scripts/test.mjs stage "packaging", no broker): packs every publishable
// package with `npm pack` (prepack empties dist and rebuilds it), installs the tarballs into a
// fresh app outside the repo and uses them as a new user would. One file, one install.
export default defineConfig({
  test: {
    name: 'packaging',
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 600_000,
  },
});
