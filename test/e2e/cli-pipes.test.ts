// A closed stdout never stops the work (issue 11 item 8): `bowline apply -f many.yaml | head -1`
// used to die of EPIPE after the first lines, leaving most documents unapplied. Here the reader
// really goes away (the pipe's read end is closed after the first line), and the test checks that
// every document was applied and that the exit code says how the apply went.
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../src/control/control-plane.js';
import { repoRoot } from '../support/process.js';
import { tempDir } from '../support/temp.js';

const N = 120;
let cp: ControlPlane;
let home: string;

function many(ns: string, extra = ''): string {
  const docs: string[] = [];
  for (let i = 0; i < N; i++) docs.push(`apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs${i}}\nspec:\n  hosts: [h${i}]\n  http:\n  - route: [{destination: {host: h${i}}}]\n`);
  const f = join(home, `${ns}.yaml`);
  writeFileSync(f, docs.join('---\n') + extra);
  return f;
}

/** Runs `bin/bowline ARGS` with stdout (and with `both`, stderr too) read up to the first line, then closed. */
function runAndCloseEarly(args: string[], both: boolean): Promise<{ code: number | null; signal: string | null; err: string; first: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [repoRoot + 'bin/bowline', ...args], { cwd: repoRoot, env: { ...process.env, BOWLINE_HOME: join(home, 'cp') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let first = '';
    let err = '';
    proc.stdout.on('data', (d) => {
      if (first) return;
      first = String(d).split('\n')[0]!;
      proc.stdout.destroy(); // like `head -1` exiting: the write end now gets EPIPE
    });
    proc.stderr.on('data', (d) => {
      err += d;
      if (both) proc.stderr.destroy();
    });
    proc.on('exit', (code, signal) => resolve({ code, signal, err, first }));
  });
}

beforeAll(async () => {
  home = tempDir('bowline-pipes-');
  cp = await startControlPlane({ home: join(home, 'cp'), listenApi: '127.0.0.1:0', log: () => {} });
});
afterAll(async () => {
  await cp.close();
  rmSync(home, { recursive: true, force: true });
});

describe('bowline apply with a reader that goes away', () => {
  it(`apply -f many.yaml | head -1: all ${N} documents are applied and the exit code is 0`, async () => {
    const r = await runAndCloseEarly(['apply', '-f', many('pipes'), '-n', 'pipes', '--server', cp.apiUrl], false);
    expect(r.first).toBe('virtualservice.networking.istio.io/vs0 created');
    expect(r.err).not.toMatch(/EPIPE|Unhandled|at /);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
    expect((await cp.store.list('VirtualService', 'pipes')).items).toHaveLength(N);
  }, 60_000);

  it('with stdout and stderr both closed, a failing document still makes the exit code 1 and the rest is applied', async () => {
    // The last document names another namespace than -n: apply refuses that one and goes on.
    const extra = `---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: elsewhere, namespace: other}\nspec:\n  hosts: [x]\n  http:\n  - route: [{destination: {host: x}}]\n`;
    const f = many('both', extra);
    const r = await runAndCloseEarly(['apply', '-f', f, '-n', 'both', '--server', cp.apiUrl], true);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 1, signal: null });
    expect((await cp.store.list('VirtualService', 'both')).items).toHaveLength(N);
    expect((await cp.store.list('VirtualService', 'other')).items).toHaveLength(0);
  }, 60_000);
});
