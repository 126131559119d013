// globalSetup of every vitest project: the run gets a private TMPDIR (os.tmpdir()/bowline-test-run-XXXXXX,
// mode 1777 like /tmp, so processes a test starts as another user can use it too); workers and the processes
// tests spawn inherit it. At the end every entry still in it was left by this run (other runs on the machine
// have their own), so the check cannot be fooled or made flaky by them: the entries are listed, the run exits
// non-zero, and the directory is removed. Several projects in one run share one directory; the last teardown checks.
import { chmodSync, readdirSync, rmSync } from 'node:fs';
import { tempDir } from './temp.js';

interface RunTmp { dir: string; previous: string | undefined; users: number }
const KEY = Symbol.for('bowline.test.runTmp');
/** Caches tools keep in TMPDIR on purpose (tsx's compile cache, `tsx-UID`, made by tests that run a .ts file with tsx). */
const TOOL_CACHES = /^tsx-\d+$/;
const g = globalThis as unknown as Record<symbol, RunTmp | undefined>;

export default function setup(): () => void {
  let run = g[KEY];
  if (!run) {
    const dir = tempDir('bowline-test-run-');
    chmodSync(dir, 0o1777);
    run = { dir, previous: process.env['TMPDIR'], users: 0 };
    g[KEY] = run;
    process.env['TMPDIR'] = dir;
  }
  run.users++;
  const mine = run;
  return () => {
    if (--mine.users > 0) return;
    g[KEY] = undefined;
    if (mine.previous === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = mine.previous;
    let left: string[] = [];
    try { left = readdirSync(mine.dir).filter((e) => !TOOL_CACHES.test(e)); } catch { /* removed already */ }
    if (left.length > 0) {
      console.error(`\ntemp-check: the tests left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in their TMPDIR (${mine.dir}); `
        + 'make them with tempDir() from test/support/temp.ts or remove them:\n' + left.sort().map((e) => `  ${e}`).join('\n'));
      process.exitCode = 1;
    }
    rmSync(mine.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  };
}
