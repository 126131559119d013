import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { refusedPort } from './ports.js';

describe('refusedPort', () => {
  it('refuses connections and cannot be taken by a listener while held', async () => {
    const held = await refusedPort();
    const code = await new Promise<string | undefined>((resolve) => {
      const s = connect(held.port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve('connected'); });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
    });
    expect(code).toBe('ECONNREFUSED');
    const listen = (port: number) => new Promise<string>((resolve) => {
      const srv = createServer();
      srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve('listening')));
    });
    expect(await listen(held.port)).toBe('EADDRINUSE');
    await held.close();
  });
});
