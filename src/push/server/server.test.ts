import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { ProxyConfig } from '../../proxy-config/types.js';
import { MIN_PUSH_PROTOCOL_VERSION, PUSH_PROTOCOL_VERSION } from '../../proxy-config/wire.js';
// eslint-disable-next-line no-restricted-imports -- the stream test runs the real proxy-side client against the server
import { ControlClient, type ControlClientEvent } from '../../proxy/control-client/client.js';
import { generateProxyConfig } from '../generators/index.js';
import { bookinfoSnapshot, ingressProxy, productpageProxy, sampleResources } from '../testdata/bookinfo.js';
import { MAX_INBOUND_FRAME_BYTES, protocolSkew, PushServer, type PushServerOptions, type SnapshotSource } from './server.js';

/** A snapshot source the test moves by hand. */
class Source implements SnapshotSource {
  private fns = new Set<(s: MeshSnapshot) => void>();
  constructor(public snap: MeshSnapshot) {}
  current() { return this.snap; }
  onSnapshot(fn: (s: MeshSnapshot) => void) { this.fns.add(fn); return () => this.fns.delete(fn); }
  set(configs: string[]) {
    this.snap = bookinfoSnapshot(sampleResources('destination-rule-all', ...configs), this.snap);
    for (const f of this.fns) f(this.snap);
  }
  /** A new snapshot with the same content that says the mesh changed (registry or lease churn): every type is rechecked. */
  touch() {
    this.snap = Object.create(this.snap, { version: { value: this.snap.version + 1 }, changed: { value: new Set(['mesh']) } }) as MeshSnapshot;
    for (const f of this.fns) f(this.snap);
  }
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(configs: string[] = [], opts: Partial<PushServerOptions> = {}) {
  const source = new Source(bookinfoSnapshot(sampleResources('destination-rule-all', ...configs)));
  const logs: Array<Record<string, unknown>> = [];
  const server = new PushServer({ source, log: (level, msg, f) => logs.push({ level, msg, ...f }), allowPlaintext: true, ...opts });
  const addr = await server.listen(0);
  cleanup.push(() => server.close());
  return { source, server, addr, logs };
}

function client(addr: AddressInfo, proxy = productpageProxy, apply?: (cfg: ProxyConfig) => Promise<void>) {
  const applied: ProxyConfig[] = [];
  const events: ControlClientEvent[] = [];
  const c = new ControlClient({
    server: `127.0.0.1:${addr.port}`, node: proxy.node, ...(proxy.workload ? { workload: proxy.workload } : {}),
    apply: apply ?? (async (cfg) => { applied.push(cfg); }),
    initialBackoffMs: 20, maxBackoffMs: 100, log: () => {}, onEvent: (e) => events.push(e),
  });
  c.start();
  cleanup.push(() => c.stop());
  return { c, applied, events };
}

const byName = (l: Array<{ name?: string; cluster?: string }>) => [...l].sort((a, b) => ((a.name ?? a.cluster)! < (b.name ?? b.cluster)! ? -1 : 1));
const strip = (cfg: ProxyConfig) => ({ ...cfg, version: undefined, listeners: byName(cfg.listeners), routes: byName(cfg.routes), clusters: byName(cfg.clusters), endpoints: byName(cfg.endpoints), secrets: byName(cfg.secrets) });
const reviewsRoute = (cfg: ProxyConfig) => cfg.routes.find((r) => r.name === 'outbound')!.virtualHosts.find((v) => v.name.startsWith('reviews.'))!.routes[0]!.route!.destinations[0]!.cluster;

describe('push stream', () => {
  it('gives a new proxy its whole config, which it ACKs (SYNCED per type)', async () => {
    const { server, addr, source } = await setup(['virtual-service-all-v1']);
    const { applied } = client(addr);
    await waitFor(() => server.status()[0]?.types.routes?.state === 'SYNCED', { what: 'SYNCED' });
    const want = generateProxyConfig(source.snap, productpageProxy);
    expect(JSON.parse(JSON.stringify(strip(applied.at(-1)!)))).toEqual(JSON.parse(JSON.stringify({ ...strip(want), authorization: undefined })));
    const st = server.status()[0]!;
    expect(Object.values(st.types).every((t) => t.state === 'SYNCED')).toBe(true);
  });

  it('pushes only the changed types and resources, and records convergence', async () => {
    const { server, addr, source } = await setup(['virtual-service-all-v1']);
    const { applied } = client(addr);
    await waitFor(() => applied.length === 1);
    const bytesBefore = server.metrics.bytes;
    const routesBefore = server.metrics.typePushes.routes;
    source.set(['virtual-service-all-v1', 'virtual-service-reviews-jason-v2-v3']);
    await waitFor(() => applied.length === 2, { what: 'second push' });
    expect(reviewsRoute(applied[1]!)).toBe('outbound|9080|v2|reviews.default.svc.cluster.local');
    expect(server.metrics.typePushes.routes).toBe(routesBefore! + 1);
    expect(server.metrics.typePushes.clusters).toBe(1);
    // One virtual host changed: far fewer bytes than the whole route table.
    expect(server.metrics.bytes - bytesBefore).toBeLessThan(2000);
    await waitFor(() => server.status()[0]!.lastConvergenceMs !== undefined);
  });

  it("records the proxy's clock skew from its hello, follows it through its pings, and ignores a clock that is not a time", async () => {
    const T = Date.parse('2026-06-01T00:00:00.000Z');
    const { server, addr } = await setup(['virtual-service-all-v1'], { now: () => T });
    let proxyClock = T + 2 * 3600_000; // the proxy's host two hours ahead
    const c = new ControlClient({
      server: `127.0.0.1:${addr.port}`, node: productpageProxy.node, apply: async () => {}, log: () => {},
      clock: () => proxyClock, clockPingIntervalMs: 20,
    });
    c.start();
    cleanup.push(() => c.stop());
    await waitFor(() => server.status()[0]?.clockSkewMs === 2 * 3600_000, { what: () => `skew from the hello: ${JSON.stringify(server.status()[0])}` });
    proxyClock = T - 5000; // NTP stepped the proxy's clock while the stream stayed up: the next ping says so
    await waitFor(() => server.status()[0]?.clockSkewMs === -5000, { what: () => `skew from a ping: ${JSON.stringify(server.status()[0])}` });
    // A raw stream's ping with a clock that is not a time leaves the last skew as it was, and is still answered.
    const raw = connect(addr.port, '127.0.0.1');
    cleanup.push(() => raw.destroy());
    let got = '';
    raw.on('data', (d) => (got += d.toString()));
    raw.write(JSON.stringify({ type: 'hello', protocol: PUSH_PROTOCOL_VERSION, node: { ...ingressProxy.node }, clockMs: T + 1500 }) + '\n');
    await waitFor(() => server.status().find((p) => p.id === ingressProxy.node.id)?.clockSkewMs === 1500, { what: 'skew of the raw stream' });
    raw.write('{"type":"ping","clockMs":"soon"}\n{"type":"ping","clockMs":-1}\n{"type":"ping"}\n');
    await waitFor(() => got.split('"pong"').length - 1 >= 3, { what: () => `three pongs: ${got.slice(-300)}` });
    expect(server.status().find((p) => p.id === ingressProxy.node.id)?.clockSkewMs).toBe(1500);
  });

  it('a NACK is recorded (NACKED with the error) and the proxy keeps its last good config', async () => {
    const { server, addr, source } = await setup(['virtual-service-all-v1']);
    let refuse = false;
    const applied: ProxyConfig[] = [];
    client(addr, productpageProxy, async (cfg) => {
      if (refuse) throw new Error('BOWLINE_E_PROXY_CONFIG_INVALID: routes[0] is wrong');
      applied.push(cfg);
    });
    await waitFor(() => applied.length === 1);
    refuse = true;
    source.set(['virtual-service-reviews-v3']);
    await waitFor(() => server.status()[0]!.types.routes!.state === 'NACKED', { what: 'NACKED' });
    expect(server.status()[0]!.types.routes!.error).toMatch(/routes\[0\] is wrong/);
    expect(server.status()[0]!.types.clusters!.state).toBe('SYNCED');
    refuse = false;
    // Back to what the proxy runs: nothing to push, and the stale NACK no longer counts.
    source.set(['virtual-service-reviews-v3', 'virtual-service-all-v1']);
    await waitFor(() => server.status()[0]!.types.routes!.state === 'SYNCED', { what: 'SYNCED after revert' });
    expect(applied).toHaveLength(1);
    source.set(['virtual-service-all-v1', 'virtual-service-reviews-jason-v2-v3']);
    await waitFor(() => applied.length === 2, { what: 'next good push applied' });
  });

  it('a NACKed version is not resent on unrelated snapshots; a new version goes out at once; NACKED until an ACK', async () => {
    // A 10-minute NACK backoff: anything this test sees pushed after a NACK was not the backoff's retry.
    const { server, addr, source } = await setup(['virtual-service-all-v1'], { nackRetryMs: 600_000 });
    let refuse = false;
    const applied: ProxyConfig[] = [];
    client(addr, productpageProxy, async (cfg) => {
      if (!refuse) return void applied.push(cfg);
      // Each refusal is followed by a rebuilt snapshot with the same content (what made the old server loop every ~35 ms).
      setImmediate(() => source.touch());
      throw new Error('listen EADDRINUSE: address already in use 127.0.0.1:9080');
    });
    await waitFor(() => applied.length === 1);
    refuse = true;
    source.set(['virtual-service-reviews-v3']);
    await waitFor(() => server.status()[0]!.nacks >= 1, { what: 'first NACK' });
    const pushes = server.status()[0]!.pushes;
    // Ten snapshots of churn, each drained (the server pushes on the event-loop turn after a snapshot)
    // before the next: none may send anything. No clock: the count of pushes is what is asserted.
    const turn = () => new Promise<void>((r) => setImmediate(r));
    for (let i = 0; i < 10; i++) {
      source.touch();
      await turn();
      await turn();
    }
    const st = server.status()[0]!;
    expect(st.pushes).toBe(pushes);
    expect(st.nacks).toBe(1);
    expect(st.types.routes).toMatchObject({ state: 'NACKED', error: expect.stringMatching(/EADDRINUSE/) });
    expect(st.types.clusters!.state).toBe('SYNCED');
    // A new version is pushed at once (the backoff is 10 minutes), and its ACK clears the NACK.
    refuse = false;
    source.set(['virtual-service-all-v1', 'virtual-service-reviews-jason-v2-v3']);
    await waitFor(() => applied.length === 2, { what: 'new version applied' });
    expect(reviewsRoute(applied[1]!)).toBe('outbound|9080|v2|reviews.default.svc.cluster.local');
    await waitFor(() => server.status()[0]!.types.routes!.state === 'SYNCED', { what: 'SYNCED after ACK' });
    expect(server.status()[0]!.pushes).toBe(pushes + 1);
  });

  it('retries a NACKed, unchanged version with exponential backoff', async () => {
    const { server, addr, source, logs } = await setup(['virtual-service-all-v1'], { nackRetryMs: 50, nackRetryMaxMs: 200 });
    let refuse = false;
    const applied: ProxyConfig[] = [];
    client(addr, productpageProxy, async (cfg) => {
      if (refuse) throw new Error('listen EADDRINUSE: port briefly in use');
      applied.push(cfg);
    });
    await waitFor(() => applied.length === 1);
    refuse = true;
    source.set(['virtual-service-reviews-v3']);
    await waitFor(() => server.status()[0]!.nacks >= 4, { what: '4 NACKs' });
    expect(logs.filter((l) => l.msg?.toString().includes('NACK')).slice(0, 4).map((l) => l.retryInMs)).toEqual([50, 100, 200, 200]);
    expect(server.status()[0]!.types.routes!.state).toMatch(/NACKED|STALE/);
    // The cause goes away: the next retry is applied and ACKed.
    refuse = false;
    await waitFor(() => applied.length === 2, { what: 'retry applied' });
    await waitFor(() => server.status()[0]!.types.routes!.state === 'SYNCED', { what: 'SYNCED' });
  });

  it('versions on the stream: an older or newer protocol is refused naming both versions; types a proxy does not list are never sent', async () => {
    expect(protocolSkew({ protocol: PUSH_PROTOCOL_VERSION })).toBeUndefined();
    expect(protocolSkew({ protocol: MIN_PUSH_PROTOCOL_VERSION - 1, proxyVersion: '0.0.9' })).toMatch(new RegExp(`^proxy \\(bowline 0\\.0\\.9\\) speaks push protocol ${MIN_PUSH_PROTOCOL_VERSION - 1}; this control plane \\(bowline \\d+\\.\\d+\\.\\d+\\) serves protocols ${MIN_PUSH_PROTOCOL_VERSION}-${PUSH_PROTOCOL_VERSION}: upgrade the proxy`));
    expect(protocolSkew({ protocol: PUSH_PROTOCOL_VERSION + 1, proxyVersion: '9.0.0' })).toMatch(/upgrade the control plane first/);
    const { addr, logs } = await setup();
    const old = connect(addr.port, '127.0.0.1');
    let got = '';
    old.on('data', (d) => (got += d));
    const closed = new Promise((r) => old.on('close', r));
    old.write(`{"type":"hello","protocol":${MIN_PUSH_PROTOCOL_VERSION - 1},"proxyVersion":"0.0.9","node":${JSON.stringify(productpageProxy.node)}}\n`);
    await closed;
    expect(got).toMatch(/BOWLINE_E_PUSH_PROTOCOL_VERSION/);
    expect(logs.some((l) => l.code === 'BOWLINE_E_PUSH_PROTOCOL_VERSION' && String(l.reason).includes('bowline 0.0.9'))).toBe(true);
    // A proxy that lists only some types gets only those.
    const partial = connect(addr.port, '127.0.0.1');
    let lines = '';
    partial.on('data', (d) => (lines += d));
    partial.write(`{"type":"hello","protocol":${PUSH_PROTOCOL_VERSION},"types":["clusters","endpoints","listeners","routes"],"node":${JSON.stringify(productpageProxy.node)},"workload":${JSON.stringify(productpageProxy.workload)}}\n`);
    await waitFor(() => lines.includes('\n'), { what: 'first push' });
    const push = JSON.parse(lines.slice(0, lines.indexOf('\n'))) as { type: string; updates: Array<{ resourceType: string }> };
    expect(push.type).toBe('push');
    expect(push.updates.map((u) => u.resourceType).sort()).toEqual(['clusters', 'endpoints', 'listeners', 'routes']);
    partial.destroy();
  });

  it('a client that sends garbage is disconnected with a logged reason; other proxies do not notice', async () => {
    const { server, addr, source, logs } = await setup();
    const good = client(addr);
    await waitFor(() => good.applied.length === 1);
    const bad = connect(addr.port, '127.0.0.1');
    let got = '';
    bad.on('data', (d) => (got += d));
    const closed = new Promise((r) => bad.on('close', r));
    bad.write(`{"type":"hello","protocol":${PUSH_PROTOCOL_VERSION},"node":{"id":"x"}}\nnot json\n`);
    await closed;
    expect(got).toMatch(/BOWLINE_E_PUSH_BAD_HELLO/);
    expect(logs.some((l) => l.code === 'BOWLINE_E_PUSH_BAD_HELLO' && typeof l.reason === 'string')).toBe(true);
    const bad2 = connect(addr.port, '127.0.0.1');
    bad2.resume();
    bad2.write('\u0000\u0001garbage{{{\n');
    await new Promise((r) => bad2.on('close', r));
    expect(logs.some((l) => l.code === 'BOWLINE_E_PUSH_BAD_FRAME')).toBe(true);
    // A line that never ends is cut off at MAX_INBOUND_FRAME_BYTES, not buffered up to the push-sized limit.
    const bad3 = connect(addr.port, '127.0.0.1');
    bad3.resume();
    bad3.on('error', () => {});
    const closed3 = new Promise((r) => bad3.on('close', r));
    bad3.write('{"type":"hello","x":"' + 'a'.repeat(MAX_INBOUND_FRAME_BYTES + 1024));
    await closed3;
    expect(logs.some((l) => l.code === 'BOWLINE_E_PUSH_BAD_FRAME' && String(l.reason).includes(`${MAX_INBOUND_FRAME_BYTES} bytes`))).toBe(true);
    source.set(['virtual-service-reviews-v3']);
    await waitFor(() => good.applied.length === 2);
    expect(good.events.filter((e) => e.type === 'disconnected')).toHaveLength(0);
    expect(server.connected).toBe(1);
  });

  it('reconnects with backoff after the control plane restarts and is not resent unchanged types', async () => {
    const source = new Source(bookinfoSnapshot(sampleResources('destination-rule-all', 'virtual-service-all-v1')));
    let server = new PushServer({ source, log: () => {}, allowPlaintext: true });
    const addr = await server.listen(0);
    const { applied, events } = client(addr);
    await waitFor(() => applied.length === 1);
    await server.close();
    await waitFor(() => events.some((e) => e.type === 'disconnected'));
    server = new PushServer({ source, log: () => {}, allowPlaintext: true });
    await server.listen(addr.port);
    cleanup.push(() => server.close());
    await waitFor(() => server.status()[0]?.types.routes?.state === 'SYNCED', { what: 'resync' });
    expect(server.metrics.pushes).toBe(0);
    expect(applied).toHaveLength(1);
  });

  it('coalesces changes arriving while a push is in flight into one more push', async () => {
    const { server, addr, source } = await setup();
    let release!: () => void;
    let hold = false;
    const applied: ProxyConfig[] = [];
    client(addr, productpageProxy, async (cfg) => {
      if (hold) await new Promise<void>((r) => (release = r));
      applied.push(cfg);
    });
    await waitFor(() => applied.length === 1);
    hold = true;
    source.set(['virtual-service-reviews-v3']);
    await waitFor(() => release !== undefined);
    hold = false;
    source.set(['virtual-service-reviews-50-v3']);
    source.set(['virtual-service-reviews-jason-v2-v3']);
    release();
    await waitFor(() => applied.length === 3);
    expect(reviewsRoute(applied[2]!)).toBe('outbound|9080|v2|reviews.default.svc.cluster.local');
    expect(server.status()[0]!.pushes).toBe(3);
  });

  it('serves a gateway its Gateway listeners', async () => {
    const { server, addr } = await setup(['bookinfo-gateway']);
    const { applied } = client(addr, ingressProxy);
    await waitFor(() => applied.length === 1);
    expect(applied[0]!.listeners.map((l) => l.port)).toEqual([8080]);
    expect(server.status()[0]!.role).toBe('gateway');
  });
});

describe('CSR seam', () => {
  it('forwards a csr to onCsr and returns the certificate to the proxy; refuses without a CA', async () => {
    const source = new Source(bookinfoSnapshot(sampleResources('destination-rule-all')));
    const server = new PushServer({ source, log: () => {}, allowPlaintext: true, onCsr: async (msg) => ({ type: 'certificate', requestId: msg.requestId, certificateChain: `signed(${String(msg.csr)})` }) });
    const addr = await server.listen(0);
    cleanup.push(() => server.close());
    const { c, applied } = client(addr);
    await waitFor(() => applied.length === 1);
    expect(await c.requestCertificate('CSR-PEM')).toMatchObject({ certificateChain: 'signed(CSR-PEM)' });
    const { addr: addr2 } = await setup();
    const other = client(addr2);
    await waitFor(() => other.applied.length === 1);
    expect(await other.c.requestCertificate('x')).toMatchObject({ code: 'BOWLINE_E_PUSH_NO_CA' });
  });
});

describe('stats over the push stream', () => {
  it('keeps the traffic a proxy reports; a malformed row is skipped and the stream stays up', async () => {
    const { server, addr } = await setup(['virtual-service-all-v1']);
    const { c, applied } = client(addr);
    await waitFor(() => applied.length === 1);
    const row = { r: 'd' as const, sw: 'productpage-v1', sn: 'default', sa: 'productpage', sv: 'v1', dw: 'reviews-v2', dn: 'default', da: 'reviews', dv: 'v2', ds: 'reviews.default.svc.cluster.local', p: 'http' as const, m: 1 as const, c: '2xx', n: 10, e: 0, s: 30, b: [2, 10] };
    expect(c.sendStats({ type: 'stats', intervalMs: 5000, bounds: [0.5, 1, 5], rows: [row, { ...row, n: -5 } as never] })).toBe(true);
    await waitFor(() => server.stats.reports === 1, { what: 'stats report' });
    expect(server.stats.refused).toBe(1);
    const [edge] = server.stats.graphEdges();
    expect(edge).toMatchObject({ reporter: 'destination', mtls: true, requests: 10, errors: 0, source: { workload: 'productpage-v1' }, destination: { service: 'reviews.default.svc.cluster.local', version: 'v2' } });
    expect(edge!.p99).toBeGreaterThan(1);
    expect(edge!.p99).toBeLessThanOrEqual(5);
    expect(c.connected).toBe(true);
    expect(server.metrics.render()).toMatch(/^bowline_push_stats_reports_total 1$/m);
  });
});
