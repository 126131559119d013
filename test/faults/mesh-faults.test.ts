// Fault suite on a real mesh (`bowline up` with its CA, sidecars with bootstrap tokens, mTLS):
// the control plane killed and restarted under 200 rps (0 failed requests, every proxy resyncs),
// and a client flooding hellos for the real proxies' identities (they stay SYNCED). Each case
// prints a FIGURE line so the suite is also a report.
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUSH_PROTOCOL_VERSION } from '../../src/proxy-config/wire.js';
import { settle, TestMesh, type Sidecar } from '../e2e/mesh-harness.js';
import { waitFor } from '../support/wait.js';
import { figure, LoadClient } from './load.js';

const mesh = new TestMesh();
let client: Sidecar;
const URL_ = 'http://hello:8000/';

beforeAll(async () => {
  await mesh.up();
  await mesh.sidecar('hello', 'default', 'hello', 8000);
  client = await mesh.sidecar('sleep', 'default', 'sleep', 9000);
  await settle(client.outbound, URL_, 200);
  lc = new LoadClient(client.outbound, URL_);
}, 90_000);
afterAll(async () => { lc?.close(); await mesh.down(); }, 30_000);

let lc: LoadClient;
/** Sends `rps` GETs per second for `ms` through the client sidecar (load.ts). */
const load = (rps: number, ms: number, during?: (elapsed: number) => void) => lc.load(rps, ms, during);

async function syncz(): Promise<Array<{ id: string; types: Record<string, { state: string }> }>> {
  const r = await fetch(`${mesh.api}/debug/syncz`).catch(() => undefined);
  if (!r?.ok) return [];
  return ((await r.json()) as { proxies: Array<{ id: string; types: Record<string, { state: string }> }> }).proxies;
}
const allSynced = async () => {
  const p = await syncz();
  return p.length === 2 && p.every((x) => Object.values(x.types).every((t) => t.state === 'SYNCED' || t.state === 'NOT_SENT'));
};

describe('fault: control plane', () => {
  it('killed (SIGKILL) and restarted under 200 rps: 0 failed requests, every proxy resyncs', async () => {
    await waitFor(allSynced, { timeoutMs: 20_000, what: 'both proxies SYNCED before' });
    const ports = JSON.parse(readFileSync(join(mesh.home, 'cp.ports.json'), 'utf8')) as { api: number; push: number; pushTls: number };
    const old = mesh.cp!;
    // Warm-up: the client's keep-alive pool and the sidecars' upstream connections are opened first (reported, not the fault's doing).
    const warm = await load(200, 1000);
    let killedAt = 0;
    let restart: Promise<void> | undefined;
    const r = await load(200, 6000, (t) => {
      if (!killedAt && t > 1000) { killedAt = t; old.proc.kill('SIGKILL'); }
      if (killedAt && !restart && t > 2500) restart = mesh.up(['--listen-api', `127.0.0.1:${ports.api}`, '--listen-push', `127.0.0.1:${ports.push}`, '--listen-push-tls', `127.0.0.1:${ports.pushTls}`]);
    });
    await restart;
    const t1 = Date.now();
    await waitFor(allSynced, { timeoutMs: 30_000, what: 'both proxies SYNCED after the restart' });
    console.log(figure('control plane kill+restart (200 rps, 6 s)', r, `${lc.staleRetries} stale keep-alive resends so far; proxies resynced ${Date.now() - t1} ms after the restart was up; killed at ${killedAt} ms, failures at ${r.failedAt.join(',') || '-'} ms; warm-up before: ${warm.sent} requests, ${warm.failed} failed`));
    expect(r.failed).toBe(0);
    expect(r.sent).toBeGreaterThanOrEqual(1100);
  }, 90_000);
});

/** One impostor stream: a hello for `id`; resolves with what came back before the close (or after 1.5 s). */
function impostor(port: number, id: string, tls: boolean): Promise<string> {
  return new Promise((resolve) => {
    const sock = tls ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }) : netConnect(port, '127.0.0.1');
    let text = '';
    const done = () => { clearTimeout(timer); sock.destroy(); resolve(text); };
    const timer = setTimeout(done, 1500);
    sock.on(tls ? 'secureConnect' : 'connect', () => {
      const [name, ns] = id.split('.');
      sock.write(JSON.stringify({ type: 'hello', protocol: PUSH_PROTOCOL_VERSION, node: { id, role: 'sidecar', workload: name, namespace: ns, serviceAccount: name, labels: { app: name! } } }) + '\n');
    });
    sock.on('data', (d) => (text += d.toString()));
    sock.on('error', () => {});
    sock.on('close', done);
  });
}

describe('fault: hello flood', () => {
  it('a client flooding hellos for the real proxies\' identities gets nothing; the real proxies stay SYNCED', async () => {
    await waitFor(allSynced, { timeoutMs: 20_000, what: 'both proxies SYNCED' });
    const ports = JSON.parse(readFileSync(join(mesh.home, 'cp.ports.json'), 'utf8')) as { push: number; pushTls: number };
    const ids = (await syncz()).map((p) => p.id);
    let pushes = 0;
    let refused = 0;
    const t0 = Date.now();
    const r = load(100, 4000);
    for (let round = 0; round < 10; round++) {
      const got = await Promise.all(Array.from({ length: 30 }, (_, i) => impostor(i % 2 ? ports.push : ports.pushTls, ids[i % ids.length]!, i % 2 === 0)));
      pushes += got.filter((t) => t.includes('"type":"push"')).length;
      refused += got.filter((t) => /BOWLINE_E_PUSH_/.test(t)).length;
    }
    const traffic = await r;
    const synced = await allSynced();
    console.log(figure('hello flood (traffic at 100 rps meanwhile)', traffic, `300 impostor hellos in ${Date.now() - t0} ms, ${refused} refused with a code, ${pushes} got config; real proxies SYNCED: ${synced}`));
    expect(pushes).toBe(0);
    expect(synced).toBe(true);
    expect(traffic.failed).toBe(0);
  }, 60_000);
});
