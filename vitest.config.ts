import { defineConfig } from 'vitest/config';

// Two projects: unit tests beside the code run in parallel; end-to-end tests that start
// many processes run one file at a time so they do not starve each other on 2 cores.
// Every project: tests run with a private TMPDIR that must be empty at the end (temp-check), and what
// tempDir() made is removed after each file's last afterAll (temp-setup); docs/testing.md.
const temps = { globalSetup: ['test/support/temp-check.ts'], setupFiles: ['test/support/temp-setup.ts'] };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'samples/**/*.test.ts', 'bench/**/*.test.ts', 'test/support/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
          pool: 'forks',
          ...temps,
        },
      },
      {
        // The fault suite (issue 12): real processes under load with faults injected; each case bounded
        // in time and printing a FIGURE line. One file at a time, like e2e.
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          pool: 'forks',
          ...temps,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          pool: 'forks',
          ...temps,
          fileParallelism: false,
        },
      },
    ],
  },
});
