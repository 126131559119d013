import { describe, expect, it } from 'vitest';
import { defaultMeshConfig, legacyToPeerAuthentication } from '../../api/index.js';
import type { Resource } from '../../api/types/meta.js';
import { buildSnapshot, type MeshSnapshot } from '../../model/snapshot.js';
import { announcementsView, type Announcement } from '../../registry/universal/universal.js';
import { generateProxyConfig, type ProxyInfo } from '../generators/index.js';
import { authnReport } from './authn-check.js';
import { clientTls } from './client-tls.js';
import { serverMtls } from './peer-authentication.js';

const wl = (name: string, ns: string, app: string, port: number): Announcement => ({ name, namespace: ns, serviceAccount: app, labels: { app }, address: '127.0.0.1', services: [{ service: app, port, protocol: 'HTTP', targetPort: port + 10000 }] });
const WORKLOADS = [wl('httpbin', 'foo', 'httpbin', 8000), wl('sleep', 'foo', 'sleep', 80), wl('other', 'bar', 'other', 9000)];

function r(kind: string, name: string, namespace: string | undefined, spec: unknown, creationTimestamp = '2020-01-01T00:00:00Z'): Resource {
  const metadata: Resource['metadata'] = { name, creationTimestamp };
  if (namespace !== undefined) metadata.namespace = namespace;
  return { apiVersion: 'x/v1', kind: kind as Resource['kind'], metadata, spec } as Resource;
}
/** Legacy kinds go through the same mapping the mesh controller applies. */
function snap(configs: Resource[], mesh: Partial<ReturnType<typeof defaultMeshConfig>> = {}): MeshSnapshot {
  const all = configs.flatMap((c) => (c.kind === 'MeshPolicy' || c.kind === 'Policy' ? legacyToPeerAuthentication(c).resources : [c]));
  const view = announcementsView(WORKLOADS.map((a) => ({ proxyId: `${a.name}.${a.namespace}`, announcement: a })));
  return buildSnapshot({ configs: all, ...view, mesh: { ...defaultMeshConfig(), ...mesh } });
}
const httpbin = (s: MeshSnapshot) => s.serviceByHost.get('httpbin.foo.svc.cluster.local')!;
const pa = (name: string, ns: string, spec: unknown, ts?: string) => r('PeerAuthentication', name, ns, spec, ts);

describe('PeerAuthentication precedence', () => {
  const w = { namespace: 'foo', labels: { app: 'httpbin' } };
  it('defaults to PERMISSIVE', () => expect(serverMtls(snap([]), w, [8000])).toMatchObject({ mode: 'PERMISSIVE', level: 'default' }));
  it('mesh, then namespace, then workload, then port; UNSET inherits', () => {
    const mesh = pa('default', 'istio-system', { mtls: { mode: 'STRICT' } });
    const ns = pa('default', 'foo', { mtls: { mode: 'PERMISSIVE' } });
    const wlp = pa('hb', 'foo', { selector: { matchLabels: { app: 'httpbin' } }, mtls: { mode: 'UNSET' }, portLevelMtls: { '18000': { mode: 'DISABLE' } } });
    expect(serverMtls(snap([mesh]), w, [8000])).toMatchObject({ mode: 'STRICT', source: 'PeerAuthentication istio-system/default' });
    expect(serverMtls(snap([mesh, ns]), w, [8000])).toMatchObject({ mode: 'PERMISSIVE', level: 'namespace' });
    expect(serverMtls(snap([mesh, ns, wlp]), w, [8000])).toMatchObject({ mode: 'PERMISSIVE', level: 'namespace' });
    expect(serverMtls(snap([mesh, ns, wlp]), w, [8000, 18000])).toMatchObject({ mode: 'DISABLE', level: 'port', source: 'PeerAuthentication foo/hb port 18000' });
    expect(serverMtls(snap([mesh, ns, wlp]), { namespace: 'foo', labels: { app: 'sleep' } }, [80])).toMatchObject({ mode: 'PERMISSIVE' });
    expect(serverMtls(snap([mesh]), { namespace: 'bar', labels: {} }, [9000])).toMatchObject({ mode: 'STRICT' });
  });
  it('the oldest of two namespace-wide policies wins', () => {
    const s = snap([pa('b', 'foo', { mtls: { mode: 'DISABLE' } }, '2021-01-01T00:00:00Z'), pa('a', 'foo', { mtls: { mode: 'STRICT' } }, '2022-01-01T00:00:00Z')]);
    expect(serverMtls(s, w, [8000])).toMatchObject({ mode: 'DISABLE', source: 'PeerAuthentication foo/b' });
  });
  it('legacy MeshPolicy and Policy (targets) map onto the same precedence', () => {
    const mp = r('MeshPolicy', 'default', undefined, { peers: [{ mtls: {} }] });
    const pol = r('Policy', 'hb', 'foo', { targets: [{ name: 'httpbin' }], peers: [{ mtls: { mode: 'PERMISSIVE' } }] });
    expect(serverMtls(snap([mp]), w, [8000])).toMatchObject({ mode: 'STRICT', source: 'MeshPolicy default' });
    expect(serverMtls(snap([mp, pol]), w, [8000])).toMatchObject({ mode: 'PERMISSIVE', source: 'Policy foo/hb-httpbin' });
  });
});

describe('client TLS and auto-mTLS', () => {
  it('auto-mTLS when every endpoint has a proxy; off by mesh config; DestinationRule decides first', () => {
    expect(clientTls(snap([]), 'foo', httpbin(snap([])), 8000)).toMatchObject({ mode: 'ISTIO_MUTUAL', source: 'auto-mTLS', auto: true });
    const off = snap([], { enableAutoMtls: false });
    expect(clientTls(off, 'foo', httpbin(off), 8000)).toMatchObject({ mode: 'DISABLE', source: '(no DestinationRule)' });
    const dr = snap([r('DestinationRule', 'hb', 'foo', { host: 'httpbin', trafficPolicy: { tls: { mode: 'DISABLE' } } })]);
    expect(clientTls(dr, 'foo', httpbin(dr), 8000)).toMatchObject({ mode: 'DISABLE', source: 'DestinationRule foo/hb', auto: false });
    const pl = snap([r('DestinationRule', 'hb', 'foo', { host: 'httpbin', trafficPolicy: { tls: { mode: 'DISABLE' }, portLevelSettings: [{ port: { number: 8000 }, tls: { mode: 'ISTIO_MUTUAL' } }] } })], { enableAutoMtls: false });
    expect(clientTls(pl, 'foo', httpbin(pl), 8000)).toMatchObject({ mode: 'ISTIO_MUTUAL' });
  });
  it('auto-mTLS sends plaintext to a proxy that announced it has no certificate (tlsMode disabled)', () => {
    const view = announcementsView([{ proxyId: 'hb', announcement: { ...WORKLOADS[0]!, tlsMode: 'disabled' } }]);
    const s = buildSnapshot({ configs: [], ...view, mesh: defaultMeshConfig() });
    expect(clientTls(s, 'foo', httpbin(s), 8000)).toMatchObject({ mode: 'DISABLE', source: '(no DestinationRule)' });
  });
  it('auto-mTLS sends plaintext to a server that disables mTLS', () => {
    const s = snap([pa('default', 'foo', { mtls: { mode: 'DISABLE' } })]);
    expect(clientTls(s, 'foo', httpbin(s), 8000)).toMatchObject({ mode: 'DISABLE', auto: true });
  });
});

describe('generated config', () => {
  const httpbinProxy: ProxyInfo = { node: { id: 'httpbin.foo', role: 'sidecar', workload: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } }, workload: WORKLOADS[0]! };
  const sleepProxy: ProxyInfo = { node: { id: 'sleep.foo', role: 'sidecar', workload: 'sleep', namespace: 'foo', serviceAccount: 'sleep', labels: { app: 'sleep' } }, workload: WORKLOADS[1]! };
  const chains = (s: MeshSnapshot) => generateProxyConfig(s, httpbinProxy).listeners.find((l) => l.name === 'inbound|8000')!.filterChains.map((c) => `${c.match?.transportProtocol ?? '*'}${c.tls ? '+mtls' : ''}`);
  it('inbound chains: PERMISSIVE tls+raw, STRICT tls only, DISABLE raw', () => {
    expect(chains(snap([]))).toEqual(['tls+mtls', 'raw']);
    expect(chains(snap([pa('default', 'istio-system', { mtls: { mode: 'STRICT' } })]))).toEqual(['tls+mtls']);
    expect(chains(snap([pa('default', 'foo', { mtls: { mode: 'DISABLE' } })]))).toEqual(['*']);
  });
  it('outbound ISTIO_MUTUAL checks the destination identities; workload secrets are placeholders', () => {
    const cfg = generateProxyConfig(snap([]), sleepProxy);
    expect(cfg.clusters.find((c) => c.name === 'outbound|8000||httpbin.foo.svc.cluster.local')!.tls).toEqual({ mode: 'ISTIO_MUTUAL', certificateSecret: 'default', validationSecret: 'ROOTCA', auto: true, subjectAltNames: ['spiffe://cluster.local/ns/foo/sa/httpbin'], sni: 'outbound_.8000_._.httpbin.foo.svc.cluster.local' });
    expect(cfg.secrets.map((s) => s.name)).toEqual(['ROOTCA', 'default']);
  });
});

describe('RequestAuthentication selection', () => {
  it('mesh-wide, namespace and selector policies reach the proxy as jwtRules with the authorization config', () => {
    const httpbinProxy: ProxyInfo = { node: { id: 'httpbin.foo', role: 'sidecar', workload: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } }, workload: WORKLOADS[0]! };
    const s = snap([
      r('RequestAuthentication', 'mesh', 'istio-system', { jwtRules: [{ issuer: 'https://a', jwksUri: 'https://a/jwks' }] }),
      r('RequestAuthentication', 'hb', 'foo', { selector: { matchLabels: { app: 'httpbin' } }, jwtRules: [{ issuer: 'https://b', jwks: '{"keys":[]}', audiences: ['x'], forwardOriginalToken: true }] }),
      r('RequestAuthentication', 'other', 'foo', { selector: { matchLabels: { app: 'sleep' } }, jwtRules: [{ issuer: 'https://c', jwks: '{}' }] }),
      r('RequestAuthentication', 'bar', 'bar', { jwtRules: [{ issuer: 'https://d', jwks: '{}' }] }),
    ]);
    expect(generateProxyConfig(s, httpbinProxy).authorization).toEqual({ policies: [], jwtRules: [
      { policy: 'foo/hb', issuer: 'https://b', jwks: '{"keys":[]}', audiences: ['x'], forwardOriginalToken: true },
      { policy: 'istio-system/mesh', issuer: 'https://a', jwksUri: 'https://a/jwks' },
    ] });
  });
});

describe('authn check', () => {
  const row = (s: MeshSnapshot) => authnReport(s, 'httpbin.foo', 'foo')[0]!;
  it('MeshPolicy alone with auto-mTLS off: CONFLICT naming both sides; a DestinationRule ISTIO_MUTUAL makes it OK', () => {
    const mp = r('MeshPolicy', 'default', undefined, { peers: [{ mtls: {} }] });
    const bad = row(snap([mp], { enableAutoMtls: false }));
    expect(bad).toMatchObject({ status: 'CONFLICT', server: { mode: 'STRICT', source: 'MeshPolicy default' }, client: { mode: 'DISABLE', source: '(no DestinationRule)' } });
    expect(bad.message).toContain('set trafficPolicy.tls.mode ISTIO_MUTUAL in a DestinationRule for httpbin.foo.svc.cluster.local');
    const dr = r('DestinationRule', 'all', 'istio-system', { host: '*.local', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } });
    expect(row(snap([mp, dr], { enableAutoMtls: false }))).toMatchObject({ status: 'OK', client: { mode: 'ISTIO_MUTUAL', source: 'DestinationRule istio-system/all' } });
  });
  it('auto-mTLS on: MeshPolicy alone is OK; DestinationRule DISABLE toward STRICT is the conflict', () => {
    const mp = r('MeshPolicy', 'default', undefined, { peers: [{ mtls: {} }] });
    expect(row(snap([mp]))).toMatchObject({ status: 'OK', client: { mode: 'ISTIO_MUTUAL', source: 'auto-mTLS' } });
    const off = row(snap([mp, r('DestinationRule', 'hb', 'foo', { host: 'httpbin', trafficPolicy: { tls: { mode: 'DISABLE' } } })]));
    expect(off).toMatchObject({ status: 'CONFLICT', client: { mode: 'DISABLE', source: 'DestinationRule foo/hb' } });
    expect(off.message).toMatch(/requires mTLS \(STRICT, set by MeshPolicy default\) but clients in namespace foo send plaintext \(DestinationRule foo\/hb\)/);
  });
  it('client mTLS toward a DISABLE server is a conflict', () => {
    const s = snap([pa('hb', 'foo', { selector: { matchLabels: { app: 'httpbin' } }, mtls: { mode: 'DISABLE' } }), r('DestinationRule', 'hb', 'foo', { host: 'httpbin', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } })]);
    expect(row(s)).toMatchObject({ status: 'CONFLICT', server: { mode: 'DISABLE' }, client: { mode: 'ISTIO_MUTUAL' } });
  });
});

describe('authn check: clients without a certificate, subsets', () => {
  const mesh = () => pa('default', 'istio-system', { mtls: { mode: 'STRICT' } });
  /** WORKLOADS plus a manually registered workload without a proxy in namespace legacy. */
  function withLegacy(configs: Resource[]): MeshSnapshot {
    const view = announcementsView(WORKLOADS.map((a) => ({ proxyId: `${a.name}.${a.namespace}`, announcement: a })));
    const legacy = { id: 'manual/legacy/sleep/10.0.0.9', name: 'sleep-legacy', namespace: 'legacy', labels: { app: 'sleep' }, address: '10.0.0.9', hasProxy: false, source: 'manual' };
    return buildSnapshot({ configs, ...view, workloads: [...view.workloads, legacy], mesh: defaultMeshConfig() });
  }
  it('a client with no sidecar is judged plaintext: CONFLICT against STRICT, OK against PERMISSIVE', () => {
    const strict = authnReport(withLegacy([mesh()]), 'httpbin.foo');
    const legacy = strict.find((row) => row.clientNamespace === 'legacy')!;
    expect(legacy).toMatchObject({ clients: 'no-sidecar', status: 'CONFLICT', client: { mode: 'DISABLE', source: '(no sidecar: no workload certificate)' } });
    expect(legacy.message).toContain('without a sidecar have no workload certificate');
    expect(strict.find((row) => row.clientNamespace === 'foo')).toMatchObject({ clients: 'sidecar', status: 'OK', client: { mode: 'ISTIO_MUTUAL' } });
    expect(authnReport(withLegacy([]), 'httpbin.foo').find((row) => row.clientNamespace === 'legacy')).toMatchObject({ status: 'OK', server: { mode: 'PERMISSIVE' } });
    expect(authnReport(withLegacy([mesh()]), 'httpbin.foo', 'legacy').map((row) => row.clients)).toEqual(['no-sidecar']);
  });
  it('a subset whose TLS differs from the rule gets its own row (and its own verdict)', () => {
    const dr = r('DestinationRule', 'hb', 'foo', { host: 'httpbin', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } }, subsets: [{ name: 'v1', labels: { app: 'httpbin' } }, { name: 'old', labels: { app: 'httpbin' }, trafficPolicy: { tls: { mode: 'DISABLE' } } }] });
    const rows = authnReport(snap([mesh(), dr]), 'httpbin.foo', 'foo');
    expect(rows.map((row) => [row.subset ?? '-', row.status])).toEqual([['-', 'OK'], ['old', 'CONFLICT']]);
    expect(rows[1]!.client).toMatchObject({ mode: 'DISABLE', source: 'DestinationRule foo/hb' });
  });
});
