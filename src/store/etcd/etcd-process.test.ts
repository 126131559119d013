import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startEtcd, type EtcdCluster } from './etcd-process.js';

const open: Array<{ close(): unknown }> = [];
afterEach(async () => { for (const c of open.splice(0)) await c.close(); });

function listen(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}
const portOf = (s: Server) => (s.address() as { port: number }).port;

describe('startEtcd', () => {
  it('starts again on new ports when a port it was given is taken before etcd binds it', async () => {
    const squatter = await listen();
    squatter.on('connection', (c) => c.destroy());
    open.push({ close: () => new Promise((r) => squatter.close(r)) });
    let calls = 0;
    // The first port handed out is one another process holds (the race the retry exists for); later ones come from the kernel.
    const pick = async () => {
      if (calls++ === 0) return portOf(squatter);
      const s = await listen();
      const p = portOf(s);
      await new Promise((r) => s.close(r));
      return p;
    };
    const etcd: EtcdCluster = await startEtcd(1, undefined, pick);
    open.push({ close: () => etcd.stop() });
    expect(calls).toBeGreaterThan(2);
    expect(etcd.url).not.toContain(`:${portOf(squatter)}`);
    const res = await fetch(`${etcd.members[0]!.clientUrl}/health`);
    expect(((await res.json()) as { health: string }).health).toBe('true');
  }, 60_000);
});
