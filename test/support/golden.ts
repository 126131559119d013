/**
 * Golden files: a test compares generated text with a file checked into the repository. A missing
 * file fails the test (a test that writes its own expectation cannot fail); only an explicit
 * BOWLINE_UPDATE_GOLDEN=1 writes or rewrites it, to be reviewed in the diff.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { expect } from 'vitest';

/** True when the run was asked to write golden files (BOWLINE_UPDATE_GOLDEN=1). */
export function updatingGolden(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.BOWLINE_UPDATE_GOLDEN === '1';
}

/** Expects `actual` to equal the golden file `file`; throws when it is missing (unless updating, which writes it). */
export function expectGolden(file: string, actual: string, env: NodeJS.ProcessEnv = process.env): void {
  if (updatingGolden(env)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
  }
  if (!existsSync(file)) throw new Error(`golden file ${file} is missing: run the test with BOWLINE_UPDATE_GOLDEN=1 to write it, then review and commit it`);
  expect(actual, `differs from the golden file ${file} (BOWLINE_UPDATE_GOLDEN=1 rewrites it; review the diff)`).toBe(readFileSync(file, 'utf8'));
}
