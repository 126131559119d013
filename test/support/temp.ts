// Temporary directories and files for tests: made under os.tmpdir(), removed (rm -rf) when the test file ends.
// The removal is the last afterAll of every file (test/support/temp-setup.ts, a setupFiles entry of each vitest
// project; after hooks run in reverse order, so it runs after the file's own afterAll that stops the processes
// using these directories). test/support/temp-check.ts then fails the run if anything is left in the run's
// private TMPDIR.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A new directory `os.tmpdir()/PREFIX` + 6 random characters (mkdtemp), removed when the test file ends. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes PATH (a file or a directory, rm -rf) when the test file ends; returns PATH. */
export function removeAfterFile(path: string): string {
  made.push(path);
  return path;
}

/** Removes every path tempDir and removeAfterFile registered (newest first); returns those it could not remove. */
export function removeTemps(): string[] {
  const failed: string[] = [];
  while (made.length > 0) {
    const p = made.pop()!;
    try {
      rmSync(p, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    } catch (err) {
      failed.push(`${p}: ${(err as Error).message}`);
    }
  }
  return failed;
}
