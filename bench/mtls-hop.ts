/**
 * The two-proxy hop with mTLS between the proxies, for `npm run bench -- proxy` (mtls_hop_p99_ms):
 * configs for an outer proxy (HTTP listener, cluster ISTIO_MUTUAL) and an inner proxy (inbound
 * STRICT chain from src/push/security, as the control plane generates it), with workload
 * certificates from Bowline's CA written inline as the `default` / `ROOTCA` secrets.
 */
import { CertificateAuthority, MemoryCaStorage, parseKek } from '../src/ca/index.js';
import { createKeyAndCsr } from '../src/proxy/identity/csr.js';
import { inboundChains } from '../src/push/security/mtls.js';

const node = (name: string) => ({ id: name, role: 'sidecar', workload: name, namespace: 'default', serviceAccount: name, labels: { app: name } });
const mesh = { tracingSampling: 1, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: true, outboundTrafficPolicy: 'ALLOW_ANY' };

async function secrets(ca: CertificateAuthority, sa: string): Promise<unknown[]> {
  const { keyPem, csrPem } = await createKeyAndCsr(`spiffe://cluster.local/ns/default/sa/${sa}`);
  const out = ca.signCsr(csrPem, { namespace: 'default', serviceAccount: sa });
  return [
    { name: 'default', kind: 'tls-certificate', certificateChain: out.chainPem, privateKey: keyPem },
    { name: 'ROOTCA', kind: 'validation', trustedCa: out.trustBundlePem },
  ];
}

/**
 * Proxy configs (JSON-ready) for client -> outer (plaintext) -> mTLS -> inner -> upstream. Both
 * listeners bind port 0; `outer` needs the port the inner proxy got (from its --ports-file).
 */
export async function mtlsHopConfigs(upstreamPort: number): Promise<{ outer: (innerPort: number) => unknown; inner: unknown }> {
  const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek: parseKek(Buffer.alloc(32, 5), 'bench') });
  const cluster = 'outbound|9080||reviews.default.svc.cluster.local';
  const outerSecrets = await secrets(ca, 'productpage');
  const outer = (innerPort: number): unknown => ({
    version: 'bench-mtls', node: node('productpage'), mesh,
    listeners: [{ name: 'outbound', address: '127.0.0.1', port: 0, direction: 'outbound', filterChains: [{ name: 'http', http: { routeConfig: 'out' } }] }],
    routes: [{ name: 'out', virtualHosts: [{ name: 'reviews', domains: ['*'], routes: [{ match: [{ uri: { prefix: '/' } }], route: { destinations: [{ cluster, weight: 100 }] } }] }] }],
    clusters: [{ name: cluster, discovery: 'eds', protocol: 'http1', tls: { mode: 'ISTIO_MUTUAL', certificateSecret: 'default', validationSecret: 'ROOTCA', subjectAltNames: ['spiffe://cluster.local/ns/default/sa/reviews'] } }],
    endpoints: [{ cluster, endpoints: [{ address: '127.0.0.1', port: innerPort, identity: 'spiffe://cluster.local/ns/default/sa/reviews', tlsMode: 'istio' }] }],
    secrets: outerSecrets,
  });
  const inner = {
    version: 'bench-mtls', node: node('reviews'), mesh,
    listeners: [{ name: 'inbound|9080', address: '127.0.0.1', port: 0, logicalPort: 9080, direction: 'inbound', filterChains: inboundChains('STRICT', { name: 'http', http: { routeConfig: 'in' } }) }],
    routes: [{ name: 'in', virtualHosts: [{ name: 'inbound', domains: ['*'], routes: [{ match: [{ uri: { prefix: '/' } }], route: { destinations: [{ cluster: 'inbound|9080||', weight: 100 }] } }] }] }],
    clusters: [{ name: 'inbound|9080||', discovery: 'eds', protocol: 'http1' }],
    endpoints: [{ cluster: 'inbound|9080||', endpoints: [{ address: '127.0.0.1', port: upstreamPort }] }],
    secrets: await secrets(ca, 'reviews'),
  };
  return { outer, inner };
}
