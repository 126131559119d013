// --port is held from the start of the demo until its server starts, so none of the ~20
// processes the demo starts first (all on kernel-chosen ports) can take it; a port taken
// before the demo starts is refused with BOWLINE_E_DEMO_PORT_TAKEN before any process starts.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { holdPort, portProblem } from './ports.js';
import { startDemo } from './run.js';
import { Supervisor } from './supervisor.js';
import { Progress } from './progress.js';
import { tempDir } from '../../../test/support/temp.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

async function listening(host = '127.0.0.1'): Promise<{ port: number; close(): Promise<void> }> {
  const srv = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  return { port: (srv.address() as net.AddressInfo).port, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

describe('holdPort', () => {
  it('keeps the port from every other bind until released, then frees it', async () => {
    const probe = await listening();
    await probe.close();
    const held = await holdPort(probe.port);
    cleanups.push(() => held.release());
    expect(await portProblem(probe.port, '127.0.0.1')).toBe('EADDRINUSE');
    expect(await portProblem(probe.port, '0.0.0.0')).toBe('EADDRINUSE');
    await held.release();
    await held.release(); // idempotent
    expect(await portProblem(probe.port, '127.0.0.1')).toBeUndefined();
  });

  it('rejects with the error code when the port is taken', async () => {
    const other = await listening();
    cleanups.push(() => other.close());
    await expect(holdPort(other.port)).rejects.toThrow('EADDRINUSE');
  });
});

describe('handing a held port to its owner', () => {
  it('the child asks, gets the still-bound socket and serves on it; the port is never free in between', async () => {
    const probe = await listening();
    await probe.close();
    const held = await holdPort(probe.port);
    cleanups.push(() => held.release());
    // A child speaking the protocol of `bowline proxy --sockets-from-parent` and the apps' --socket-from-parent.
    const child = spawn(process.execPath, ['-e', `
      process.on('message', (m, h) => {
        if (m.type === 'listen') h.on('connection', (s) => s.end('owner'));
        if (m.type === 'listen-end') setImmediate(() => process.disconnect());
      });
      process.send({ type: 'send-sockets' });`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    cleanups.push(() => { child.kill(); });
    await held.handTo(child);
    expect(await portProblem(probe.port)).toBe('EADDRINUSE'); // the child holds it now
    const answer = await new Promise<string>((resolve, reject) => {
      const c = net.connect(probe.port, '127.0.0.1');
      let text = '';
      c.on('data', (d) => { text += d; });
      c.on('end', () => resolve(text));
      c.on('error', reject);
    });
    expect(answer).toBe('owner');
  });
});

describe('startDemo and --port', () => {
  it('refuses a port taken before it starts, without starting any process', async () => {
    const other = await listening();
    cleanups.push(() => other.close());
    const home = tempDir('bowline-demo-port-');
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    const supervisor = new Supervisor(path.join(home, 'logs'));
    cleanups.push(() => supervisor.stopAll({ graceMs: 500 }));
    for (const mesh of [true, false]) {
      await expect(startDemo({ port: other.port, home, mesh, supervisor, progress: new Progress(() => {}) }))
        .rejects.toThrow(/port \d+ is not available \(another program is listening on it\) \[BOWLINE_E_DEMO_PORT_TAKEN\]; choose another port with --port/);
    }
    expect(supervisor.processes).toHaveLength(0);
  });
});
