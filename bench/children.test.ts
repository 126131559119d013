import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { Children } from './children.js';

const node = (code: string) => spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'pipe'] });

describe('Children', () => {
  it('names a child that fails during the run, with the tail of its stderr', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const kids = new Children();
      const c = kids.keep(node("process.stderr.write('no config here'); process.exit(3)"), 'proxy-a');
      await once(c, 'exit');
      await new Promise((r) => setImmediate(r));
      expect(write.mock.calls.map((a) => String(a[0]))).toContain('proxy-a exited 3: no config here\n');
      await kids.stop(0);
    } finally {
      write.mockRestore();
    }
  });

  it('stops every child: SIGTERM, then SIGKILL for one that ignores it; nothing is reported while stopping', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const kids = new Children();
      const polite = kids.keep(node("console.error('up'); setInterval(() => {}, 1000)"), 'polite');
      const stubborn = kids.keep(node("process.on('SIGTERM', () => {}); console.error('up'); setInterval(() => {}, 1000)"), 'stubborn');
      await Promise.all([once(polite.stderr!, 'data'), once(stubborn.stderr!, 'data')]);
      const exited = Promise.all([once(polite, 'exit'), once(stubborn, 'exit')]);
      await kids.stop(200);
      await exited;
      expect([polite.signalCode, stubborn.signalCode]).toEqual(['SIGTERM', 'SIGKILL']);
      expect(write.mock.calls.filter((a) => /exited/.test(String(a[0])))).toEqual([]);
    } finally {
      write.mockRestore();
    }
  });
});
