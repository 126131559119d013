// The last resort on a real process: an uncaught exception or unhandled rejection is one line
// with the code on stderr and exit 1 (so a supervisor restarts), not a silent hang or a crash dump.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../test/support/process.js';

function runScript(body: string): Promise<{ code: number | null; err: string }> {
  const script = `import { exitOnUncaught } from './src/cli/fatal.ts';\nexitOnUncaught('proxy', 'BOWLINE_E_PROXY_UNCAUGHT');\nsetInterval(() => {}, 1000);\n${body}`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, timeout: 20_000 }, (error, _out, err) => {
      resolve({ code: error ? (error as { code?: number }).code ?? null : 0, err: String(err) });
    });
  });
}

describe('exitOnUncaught', () => {
  it('logs an uncaught exception with the code and exits 1', async () => {
    const r = await runScript(`setTimeout(() => { throw new Error('boom in a callback'); }, 10);`);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^bowline proxy: BOWLINE_E_PROXY_UNCAUGHT: uncaught exception, exiting so a supervisor restarts a clean process: Error: boom in a callback/m);
  });

  it('treats an unhandled rejection the same way', async () => {
    const r = await runScript(`setTimeout(() => { Promise.reject(new Error('lost promise')); }, 10);`);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/BOWLINE_E_PROXY_UNCAUGHT: unhandled promise rejection.*Error: lost promise/);
  });
});
