/**
 * Secrets: TLS material named by listeners and clusters. User certificates are passed as `file:`
 * paths the proxy reads (Gateway SIMPLE/MUTUAL servers, DestinationRule SIMPLE/MUTUAL). The
 * workload certificate (`default`) and mesh roots (`ROOTCA`) come from the CA over the stream.
 */
import type { DestinationRuleSpec, Server, TrafficPolicy } from '../../api/types/networking.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { Secret } from '../../proxy-config/types.js';
import { workloadSecretPlaceholders } from '../../proxy-config/workload-secrets.js';
import type { Generator, OutputPart, ProxyInfo } from './generator.js';
import { serversByPort, terminatesTls } from './gateways.js';

/** Secret names a terminating Gateway server uses, or null when it names no certificate files. */
export function gatewaySecretNames(server: Server): { certificate: string; validation?: string } | null {
  const t = server.tls;
  if (!t?.serverCertificate || !t.privateKey) return null;
  const out: { certificate: string; validation?: string } = { certificate: `file-cert:${t.serverCertificate}~${t.privateKey}` };
  if (t.mode === 'MUTUAL' && t.caCertificates) out.validation = `file-root:${t.caCertificates}`;
  return out;
}

function certSecret(cert: string, key: string): Secret {
  return { name: `file-cert:${cert}~${key}`, kind: 'tls-certificate', certificateChain: `file:${cert}`, privateKey: `file:${key}` };
}
function rootSecret(ca: string): Secret {
  return { name: `file-root:${ca}`, kind: 'validation', trustedCa: `file:${ca}` };
}

function policySecrets(tp: TrafficPolicy | undefined, out: Map<string, Secret>): void {
  if (!tp) return;
  for (const tls of [tp.tls, ...(tp.portLevelSettings ?? []).map((p) => p.tls)]) {
    if (!tls || (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL')) continue;
    if (tls.clientCertificate) {
      const s = certSecret(tls.clientCertificate, tls.privateKey ?? '');
      out.set(s.name, s);
    }
    if (tls.caCertificates) {
      const s = rootSecret(tls.caCertificates);
      out.set(s.name, s);
    }
  }
}

/** Generates secrets. */
export const secretsGenerator: Generator = {
  type: 'secrets',
  kinds: ['Gateway', 'DestinationRule'],
  parts(snap: MeshSnapshot, proxy: ProxyInfo): OutputPart[] {
    return [{
      scope: `own:${proxy.node.id}`,
      build: () => {
        const out = new Map<string, Secret>(workloadSecretPlaceholders().map((s) => [s.name, s]));
        for (const dr of snap.configs('DestinationRule')) {
          const spec = dr.spec as DestinationRuleSpec;
          policySecrets(spec.trafficPolicy, out);
          for (const s of spec.subsets ?? []) policySecrets(s.trafficPolicy, out);
        }
        for (const list of serversByPort(snap, proxy).values()) {
          for (const b of list.filter(terminatesTls)) {
            const t = b.server.tls!;
            if (!t.serverCertificate || !t.privateKey) continue;
            const c = certSecret(t.serverCertificate, t.privateKey);
            out.set(c.name, c);
            if (t.mode === 'MUTUAL' && t.caCertificates) {
              const r = rootSecret(t.caCertificates);
              out.set(r.name, r);
            }
          }
        }
        return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
      },
    }];
  },
};
