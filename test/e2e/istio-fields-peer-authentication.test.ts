// PeerAuthentication proven end to end: Istio YAML -> the control plane's generators -> a real
// Bowline sidecar's inbound listener -> whether a plaintext caller gets in. STRICT refuses it,
// PERMISSIVE and DISABLE serve it; portLevelMtls overrides the workload's mode for one port; the
// selector picks the workload, else the namespace-wide policy applies. A change to STRICT drains what was accepted
// as plaintext: an open plaintext TCP connection is closed at the drain deadline (as Envoy's filter chain update).
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyInfo } from '../../src/push/generators/index.js';
import { startProxy } from '../../src/proxy/proxy.js';
import { waitFor } from '../support/wait.js';
import { generated, send, Sidecar, snapshot, stopWorkloads, workload, yamlResources, type Instance, type Workload } from './fields-harness.js';

let reviews: Workload;
let mesh: Instance[];
const sidecars: Sidecar[] = [];

/** The reviews workload's own sidecar: inbound listeners for 9080 and 9443 in front of the app. */
const reviewsProxy = (appPort: number): ProxyInfo => ({
  node: { id: 'reviews-v1.default', role: 'sidecar', workload: 'reviews-v1', namespace: 'default', serviceAccount: 'reviews', labels: { app: 'reviews', version: 'v1' } },
  workload: {
    name: 'reviews-v1', namespace: 'default', serviceAccount: 'reviews', labels: { app: 'reviews', version: 'v1' }, address: '127.0.0.1',
    services: [{ service: 'reviews', port: 9080, protocol: 'HTTP', targetPort: appPort }, { service: 'reviews', port: 9443, protocol: 'HTTP', targetPort: appPort }], outboundPort: 0, tlsMode: 'disabled',
  },
});

beforeAll(async () => {
  reviews = await workload('reviews-v1');
  mesh = [{ w: reviews, service: 'reviews' }];
});

afterEach(async () => {
  for (const s of sidecars.splice(0)) await s.close();
});

afterAll(async () => {
  await stopWorkloads([reviews]);
});

const pa = (name: string, spec: string) => `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ${name}, namespace: default}
spec:
${spec}`;

/** What a plaintext caller gets on each inbound port: the app's name, a status, or 'refused' (connection closed). */
async function plaintext(yaml: string): Promise<Record<number, string>> {
  const s = new Sidecar();
  sidecars.push(s);
  await s.start(mesh, yaml, { proxy: reviewsProxy(reviews.port) });
  const out: Record<number, string> = {};
  for (const port of [9080, 9443]) {
    try {
      const r = await send(s.proxy.ports.listeners[`inbound|${port}`]!, `inbound:reviews:${port}/r`);
      out[port] = r.status === 200 ? r.json.name : String(r.status);
    } catch {
      out[port] = 'refused';
    }
  }
  return out;
}

describe('PeerAuthentication through a real inbound sidecar', () => {
  it('mtls.mode: STRICT refuses a plaintext caller, PERMISSIVE and DISABLE serve it; portLevelMtls and the selector override the namespace', async () => {
    expect(await plaintext(pa('default', '  mtls: {mode: STRICT}\n'))).toEqual({ 9080: 'refused', 9443: 'refused' });
    expect(await plaintext(pa('default', '  mtls: {mode: PERMISSIVE}\n'))).toEqual({ 9080: 'reviews-v1', 9443: 'reviews-v1' });
    expect(await plaintext(pa('default', '  mtls: {mode: DISABLE}\n'))).toEqual({ 9080: 'reviews-v1', 9443: 'reviews-v1' });
    // The workload's own policy (selector) wins over the namespace's; its port 9443 is PERMISSIVE.
    expect(await plaintext(pa('default', '  mtls: {mode: DISABLE}\n') + pa('reviews', '  selector: {matchLabels: {app: reviews}}\n  mtls: {mode: STRICT}\n  portLevelMtls:\n    "9443": {mode: PERMISSIVE}\n')))
      .toEqual({ 9080: 'refused', 9443: 'reviews-v1' });
    // A selector for another workload does not apply here.
    expect(await plaintext(pa('default', '  mtls: {mode: DISABLE}\n') + pa('ratings', '  selector: {matchLabels: {app: ratings}}\n  mtls: {mode: STRICT}\n')))
      .toEqual({ 9080: 'reviews-v1', 9443: 'reviews-v1' });
  });

  it('a change from PERMISSIVE to STRICT closes an open plaintext TCP connection at the drain deadline, and refuses a new one', async () => {
    const DRAIN_MS = 1500;
    const tcpMesh: Instance[] = [{ w: reviews, service: 'reviews', protocol: 'TCP' }];
    const info: ProxyInfo = { ...reviewsProxy(reviews.port) };
    info.workload = { ...info.workload!, services: [{ service: 'reviews', port: 9080, protocol: 'TCP', targetPort: reviews.port }] };
    const at = (mode: string) => generated(snapshot(tcpMesh, yamlResources(pa('default', `  mtls: {mode: ${mode}}\n`))), info);
    const p = await startProxy({ config: at('PERMISSIVE'), admin: false, log: () => {}, drainMs: DRAIN_MS });
    sidecars.push({ close: () => p.close() } as Sidecar);
    const port = p.ports.listeners['inbound|9080']!;
    // A plaintext client's long-lived connection: HTTP/1.1 keep-alive bytes through the TCP proxy to the app.
    const c = connect(port, '127.0.0.1');
    let text = '';
    let ended = false;
    c.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    c.on('error', () => {});
    const gotEnd = new Promise<void>((r) => c.once('end', () => { ended = true; r(); }));
    const answers = (): number => text.split('reviews-v1').length - 1;
    c.write('GET /a HTTP/1.1\r\nhost: reviews\r\n\r\n');
    await waitFor(() => answers() === 1, { what: 'the answer under PERMISSIVE' });
    const t0 = Date.now();
    await p.applyConfig(at('STRICT'));
    // The drain time: the connection accepted under the plaintext chain still flows.
    c.write('GET /b HTTP/1.1\r\nhost: reviews\r\n\r\n');
    await waitFor(() => answers() === 2 || ended, { what: 'the answer during the drain' });
    expect(answers()).toBe(2);
    await gotEnd; // the proxy's FIN at the deadline
    expect(Date.now() - t0).toBeGreaterThanOrEqual(DRAIN_MS - 5);
    expect(p.stats.drainDeadlineClosed).toBe(1);
    c.end();
    // A new plaintext connection is refused.
    const fresh = connect(port, '127.0.0.1');
    let freshText = '';
    fresh.on('data', (d: Buffer) => { freshText += d.toString('latin1'); });
    fresh.on('error', () => {});
    fresh.write('GET /c HTTP/1.1\r\nhost: reviews\r\n\r\n');
    await new Promise<void>((r) => fresh.once('close', () => r()));
    expect(freshText).toBe('');
    expect(p.stats.noFilterChainMatch).toBe(1);
  });
});
