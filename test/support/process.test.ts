import { describe, expect, it } from 'vitest';
import { start } from './process.js';
import { waitForOutput } from './wait.js';

describe('a child process started by a test', () => {
  it('exited() resolves with the exit code once everything the child printed has been read', async () => {
    // 4 MiB written just before exiting: more than one pipe read, so the 'exit' event can come before the last bytes.
    const child = start(process.execPath, ['-e', "process.stdout.write('x'.repeat(4 << 20) + '\\nlast line\\n'); process.exitCode = 3"]);
    expect(await child.exited()).toBe(3);
    expect(child.output().endsWith('last line\n')).toBe(true);
  });

  it('waitForOutput waits for a line printed later and returns the match; it fails naming what it waited for, with the output', async () => {
    const child = start(process.execPath, ['-e', "console.log('starting'); setTimeout(() => console.log('ready on port 4242'), 200); setTimeout(() => {}, 5000)"]);
    try {
      expect(await waitForOutput(child, /ready on port (\d+)/)).toBe('ready on port 4242');
      await expect(waitForOutput(child, 'never printed', { timeoutMs: 100, what: 'the impossible line' })).rejects.toThrow(/timed out waiting for the impossible line; output so far \(tail\):\nstarting\nready on port 4242/);
    } finally {
      await child.stop();
    }
  });
});
