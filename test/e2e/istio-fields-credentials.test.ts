// Gateway and DestinationRule `credentialName` through real proxies: a Secret (kubernetes.io/tls
// or Istio's generic cert/key/cacert keys) in the proxy's namespace, decoded by the control plane,
// inlined into the secrets the generators push, served by the gateway on the server's SNI and used
// by a sidecar to originate mutual TLS. A server whose Secret is missing is left out while the rest
// of the gateway keeps serving; a cluster whose credential is missing refuses its connections (fail
// closed, nothing reaches the upstream); a Secret replaced takes effect on the next push.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultMeshConfig } from '../../src/api/index.js';
import type { Resource } from '../../src/api/types/meta.js';
import { credentialKey, decodeCredential, type Credential } from '../../src/model/credential.js';
import { buildSnapshot, type MeshSnapshot } from '../../src/model/snapshot.js';
import { generateProxyConfig, type ProxyInfo } from '../../src/push/generators/index.js';
import type { ProxyConfig } from '../../src/proxy-config/types.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { announcementsView } from '../../src/registry/universal/universal.js';
import { announce, send, SLEEP, stopWorkloads, workload, yamlResources, type Instance, type Workload } from './fields-harness.js';
import { tempDir } from '../support/temp.js';

const dir = tempDir('bowline-credentials-');
const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
const read = (f: string) => readFileSync(join(dir, f), 'utf8');
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A CA and, signed by it, a certificate for `cn` (files NAME.crt / NAME.key). */
function issue(name: string, cn: string): { cert: string; key: string } {
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.csr`));
  ssl('x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '1', '-copy_extensions', 'copy', '-out', join(dir, `${name}.crt`));
  return { cert: read(`${name}.crt`), key: read(`${name}.key`) };
}

let ca: string;
let gw1: { cert: string; key: string };
let gw2: { cert: string; key: string };
let client: { cert: string; key: string };
let upstreamCert: { cert: string; key: string };
let reviews: Workload;
let secure: HttpsServer;
let securePort = 0;
let secureSeen = 0;
const proxies: RunningProxy[] = [];

beforeAll(async () => {
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=test root', '-days', '1', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'));
  ca = read('ca.crt');
  gw1 = issue('gw1', 'bookinfo.example.com');
  gw2 = issue('gw2', 'bookinfo.example.com');
  client = issue('client', 'sleep.default');
  upstreamCert = issue('upstream', 'secure.example.com');
  reviews = await workload('reviews-v1');
  // An upstream that requires a client certificate from our CA (MUTUAL origination).
  secure = createHttpsServer({ cert: upstreamCert.cert, key: upstreamCert.key, ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    secureSeen++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name: 'secure', client: (req.socket as unknown as { getPeerCertificate(): PeerCertificate }).getPeerCertificate().subject?.CN }));
  });
  await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
  securePort = (secure.address() as { port: number }).port;
});

afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
});

afterAll(async () => {
  await stopWorkloads([reviews]);
  secure.closeAllConnections();
  await new Promise((r) => secure.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const GATEWAY: ProxyInfo = {
  node: { id: 'ingress-1.istio-system', role: 'gateway', workload: 'istio-ingressgateway', namespace: 'istio-system', serviceAccount: 'istio-ingressgateway', labels: { istio: 'ingressgateway' } },
  credential: 'certificate',
};

const GATEWAY_YAML = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [bookinfo.example.com]
    tls: {mode: SIMPLE, credentialName: bookinfo-credential}
  - port: {number: 443, name: https-other, protocol: HTTPS}
    hosts: [other.example.com]
    tls: {mode: SIMPLE, credentialName: no-such-secret}
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: default}
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
  - route: [{destination: {host: reviews.default.svc.cluster.local, port: {number: 9080}}}]
`;

/** The snapshot for `instances`, Istio YAML and Secrets (namespace/name -> data), decoded as the controller does. */
function snap(instances: Instance[], yaml: string, secrets: Record<string, Record<string, string>>): MeshSnapshot {
  const view = announcementsView(instances.map((i, n) => ({ proxyId: `${i.w.name}-${n}`, announcement: announce(i) })));
  const credentials = new Map<string, Credential>();
  for (const [key, data] of Object.entries(secrets)) {
    const c = decodeCredential(data);
    if (c) credentials.set(credentialKey(key.split('/')[0]!, key.split('/')[1]!), c);
  }
  const configs: Resource[] = yamlResources(yaml);
  return buildSnapshot({ configs, ...view, mesh: defaultMeshConfig(), credentials });
}

function config(s: MeshSnapshot, proxy: ProxyInfo): ProxyConfig {
  const cfg = generateProxyConfig(s, proxy);
  cfg.listeners = cfg.listeners.map((l) => ({ ...l, port: 0 }));
  return cfg;
}

async function run(cfg: ProxyConfig): Promise<RunningProxy> {
  const p = await startProxy({ config: cfg, admin: false, log: () => {} });
  proxies.push(p);
  return p;
}

/** A TLS handshake with SNI `servername` verified against the test CA, then one HTTP/1.1 GET; the served certificate and the response. */
function httpsGet(port: number, servername: string): Promise<{ cert: PeerCertificate; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['http/1.1'] }, () => {
      const cert = s.getPeerCertificate();
      s.write(`GET /productpage HTTP/1.1\r\nhost: ${servername}\r\nconnection: close\r\n\r\n`);
      let raw = '';
      s.setEncoding('utf8');
      s.on('data', (c: string) => { raw += c; });
      s.on('end', () => resolve({ cert, status: Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1]), body: raw.slice(raw.indexOf('\r\n\r\n') + 4) }));
    });
    s.on('error', reject);
  });
}

const tlsSecret = (c: { cert: string; key: string }) => ({ 'tls.crt': b64(c.cert), 'tls.key': b64(c.key) });
const INSTANCES = (): Instance[] => [{ w: reviews, service: 'reviews' }];

describe('Gateway credentialName', () => {
  it('serves the Secret\'s certificate on its hosts; a server whose Secret is missing is left out, the rest keeps serving', async () => {
    const cfg = config(snap(INSTANCES(), GATEWAY_YAML, { 'istio-system/bookinfo-credential': tlsSecret(gw1) }), GATEWAY);
    expect(cfg.secrets.find((s) => s.name === 'credential:istio-system/bookinfo-credential')).toMatchObject({ kind: 'tls-certificate', certificateChain: gw1.cert, privateKey: gw1.key });
    const p = await run(cfg);
    const port443 = p.ports.listeners['gateway|443']!;
    const r = await httpsGet(port443, 'bookinfo.example.com');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).name).toBe('reviews-v1');
    expect(r.cert.fingerprint256).toBe(new (await import('node:crypto')).X509Certificate(gw1.cert).fingerprint256);
    // other.example.com names a Secret that does not exist: no chain for it (refused at the handshake), no NACK.
    await expect(httpsGet(port443, 'other.example.com')).rejects.toThrow();
    expect((await send(p.ports.listeners['gateway|80']!, 'inbound:bookinfo.example.com/productpage')).status).toBe(200);
  });

  it('a replaced Secret is served after the next push, without a restart', async () => {
    const p = await run(config(snap(INSTANCES(), GATEWAY_YAML, { 'istio-system/bookinfo-credential': tlsSecret(gw1) }), GATEWAY));
    const port443 = p.ports.listeners['gateway|443']!;
    const { X509Certificate } = await import('node:crypto');
    expect((await httpsGet(port443, 'bookinfo.example.com')).cert.fingerprint256).toBe(new X509Certificate(gw1.cert).fingerprint256);
    const next = config(snap(INSTANCES(), GATEWAY_YAML, { 'istio-system/bookinfo-credential': { cert: b64(gw2.cert), key: b64(gw2.key) } }), GATEWAY);
    await p.applyConfig(next);
    expect((await httpsGet(port443, 'bookinfo.example.com')).cert.fingerprint256).toBe(new X509Certificate(gw2.cert).fingerprint256);
  });

  it('key material never goes to a proxy on a plaintext stream, nor from a Secret in another namespace', () => {
    const s = snap(INSTANCES(), GATEWAY_YAML, { 'istio-system/bookinfo-credential': tlsSecret(gw1), 'default/bookinfo-credential': tlsSecret(gw2) });
    const plain = generateProxyConfig(s, { ...GATEWAY, credential: 'plaintext' });
    expect(plain.secrets.some((x) => x.name.startsWith('credential:'))).toBe(false);
    expect(plain.listeners.find((l) => l.name === 'gateway|443')?.filterChains ?? []).toHaveLength(0);
    const proven = generateProxyConfig(s, GATEWAY);
    expect(proven.secrets.filter((x) => x.name.startsWith('credential:')).map((x) => x.name)).toEqual(['credential:istio-system/bookinfo-credential']);
  });

  it('a Secret whose key does not match its certificate serves nothing', () => {
    const cfg = generateProxyConfig(snap(INSTANCES(), GATEWAY_YAML, { 'istio-system/bookinfo-credential': { 'tls.crt': b64(gw1.cert), 'tls.key': b64(gw2.key) } }), GATEWAY);
    expect(cfg.secrets.some((x) => x.name.startsWith('credential:'))).toBe(false);
    expect(cfg.listeners.find((l) => l.name === 'gateway|443')?.filterChains ?? []).toHaveLength(0);
  });
});

const MUTUAL_YAML = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure, namespace: default}
spec:
  host: secure.default.svc.cluster.local
  trafficPolicy:
    tls: {mode: MUTUAL, credentialName: secure-client, sni: secure.example.com}
`;

describe('DestinationRule credentialName', () => {
  const instances = (): Instance[] => [{ w: { ...reviews, name: 'secure', port: securePort } as Workload, service: 'secure' }];

  it('originates mutual TLS with the Secret\'s certificate and verifies the upstream with its CA', async () => {
    const s = snap(instances(), MUTUAL_YAML, { 'default/secure-client': { cert: b64(client.cert), key: b64(client.key), cacert: b64(ca) } });
    const p = await run(config(s, SLEEP));
    const before = secureSeen;
    const r = await send(p.ports.listeners.outbound!, 'http://secure.default.svc.cluster.local:9080/x');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ name: 'secure', client: 'sleep.default' });
    expect(secureSeen).toBe(before + 1);
  });

  it('port-level and subset-level credentialName are used the same way', async () => {
    const yaml = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure, namespace: default}
spec:
  host: secure.default.svc.cluster.local
  trafficPolicy:
    portLevelSettings:
    - port: {number: 9080}
      tls: {mode: MUTUAL, credentialName: secure-client, sni: secure.example.com}
  subsets:
  - name: v1
    labels: {app: secure}
    trafficPolicy:
      tls: {mode: MUTUAL, credentialName: secure-subset, sni: secure.example.com}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: secure, namespace: default}
spec:
  hosts: [secure.default.svc.cluster.local]
  http:
  - match: [{headers: {x-subset: {exact: v1}}}]
    route: [{destination: {host: secure.default.svc.cluster.local, subset: v1}}]
  - route: [{destination: {host: secure.default.svc.cluster.local}}]
`;
    // The port-level Secret exists; the subset's does not: the subset fails closed, the port-level path works.
    const p = await run(config(snap(instances(), yaml, { 'default/secure-client': tlsSecret(client) }), SLEEP));
    const before = secureSeen;
    const noCa = await send(p.ports.listeners.outbound!, 'http://secure.default.svc.cluster.local:9080/x');
    // No CA in that Secret: the upstream is verified against the system roots, which do not know the test root.
    expect(noCa.status).toBe(503);
    await p.applyConfig(config(snap(instances(), yaml, { 'default/secure-client': { ...tlsSecret(client), 'ca.crt': b64(ca) } }), SLEEP));
    expect((await send(p.ports.listeners.outbound!, 'http://secure.default.svc.cluster.local:9080/x')).json).toEqual({ name: 'secure', client: 'sleep.default' });
    expect((await send(p.ports.listeners.outbound!, 'http://secure.default.svc.cluster.local:9080/x', { headers: { 'x-subset': 'v1' } })).status).toBe(503);
    await p.applyConfig(config(snap(instances(), yaml, { 'default/secure-client': { ...tlsSecret(client), 'ca.crt': b64(ca) }, 'default/secure-subset': { ...tlsSecret(client), 'ca.crt': b64(ca) } }), SLEEP));
    expect((await send(p.ports.listeners.outbound!, 'http://secure.default.svc.cluster.local:9080/x', { headers: { 'x-subset': 'v1' } })).status).toBe(200);
    expect(secureSeen).toBe(before + 2);
  });

  it('a missing Secret fails closed: 503, nothing reaches the upstream, the proxy took the config', async () => {
    const p = await run(config(snap(instances(), MUTUAL_YAML, {}), SLEEP));
    const before = secureSeen;
    const r = await send(p.ports.listeners.outbound!, 'http://secure.default.svc.cluster.local:9080/x');
    expect(r.status).toBe(503);
    expect(secureSeen).toBe(before);
  });
});
