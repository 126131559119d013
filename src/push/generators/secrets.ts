/**
 * Secrets: TLS material named by listeners and clusters. User certificates are passed as `file:`
 * paths the proxy reads (Gateway SIMPLE/MUTUAL servers, DestinationRule SIMPLE/MUTUAL), or inline
 * from a Secret named by `credentialName` (in the proxy's namespace, as Istio reads it; sent only to
 * a proxy whose stream proved its identity: push/security/secret-access.ts). The workload
 * certificate (`default`) and mesh roots (`ROOTCA`) come from the CA over the stream.
 */
import type { DestinationRuleSpec, Server, TrafficPolicy } from '../../api/types/networking.js';
import type { Credential } from '../../model/credential.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { Secret } from '../../proxy-config/types.js';
import { workloadSecretPlaceholders } from '../../proxy-config/workload-secrets.js';
import { secretsAllowed } from '../security/secret-access.js';
import type { Generator, OutputPart, ProxyInfo } from './generator.js';
import { serversByPort, terminatesTls } from './gateways.js';

/** A `credentialName` as one proxy can use it: its certificate and key, and its CA when it has one. */
export type UsableCredential = { ok: true; namespace: string; name: string; cert?: string; key?: string; ca?: string } | { ok: false; reason: string };

/**
 * The Secret `name` (optionally `NAMESPACE/NAME`) in the proxy's namespace, as this proxy may use
 * it; its CA may also come from the Secret `NAME-cacert` (Istio's convention for MUTUAL).
 */
export function usableCredential(snap: MeshSnapshot, proxy: ProxyInfo, credentialName: string): UsableCredential {
  const slash = credentialName.indexOf('/');
  const namespace = slash > 0 ? credentialName.slice(0, slash) : proxy.node.namespace;
  const name = slash > 0 ? credentialName.slice(slash + 1) : credentialName;
  if (!secretsAllowed(proxy, true)) return { ok: false, reason: `proxy ${proxy.node.id} has not proved its identity (plaintext stream): no key material is sent to it` };
  if (namespace !== proxy.node.namespace) return { ok: false, reason: `Secret ${namespace}/${name} is not in the proxy's namespace ${proxy.node.namespace}` };
  const c: Credential | undefined = snap.credential(namespace, name);
  const extraCa = snap.credential(namespace, `${name}-cacert`);
  if (!c && !extraCa) return { ok: false, reason: `Secret ${namespace}/${name} does not exist (or holds no tls.crt/tls.key or cert/key)` };
  if (c?.problem) return { ok: false, reason: `Secret ${namespace}/${name} cannot serve: ${c.problem}` };
  const out: UsableCredential = { ok: true, namespace, name };
  if (c?.cert && c.key) { out.cert = c.cert; out.key = c.key; }
  const ca = c?.ca ?? (extraCa && !extraCa.problem ? extraCa.ca : undefined);
  if (ca) out.ca = ca;
  return out;
}

/** Name of the inline secret holding a credential's certificate and key. */
export const credentialCertName = (c: { namespace: string; name: string }): string => `credential:${c.namespace}/${c.name}`;
/** Name of the inline secret holding a credential's CA. */
export const credentialCaName = (c: { namespace: string; name: string }): string => `credential-ca:${c.namespace}/${c.name}`;

/**
 * Secret names a terminating Gateway server uses, or null when it has no usable certificate (no
 * files named, or a `credentialName` this proxy cannot use: the server is then left out, the rest of
 * the gateway keeps serving). MUTUAL without a CA is left out too (fail closed).
 */
export function gatewaySecretNames(snap: MeshSnapshot, proxy: ProxyInfo, server: Server): { certificate: string; validation?: string } | null {
  const t = server.tls;
  if (t?.credentialName) {
    const c = usableCredential(snap, proxy, t.credentialName);
    if (!c.ok || !c.cert) return null;
    const out: { certificate: string; validation?: string } = { certificate: credentialCertName(c) };
    if (t.mode === 'MUTUAL') {
      if (!c.ca) return null;
      out.validation = credentialCaName(c);
    }
    return out;
  }
  if (!t?.serverCertificate || !t.privateKey) return null;
  const out: { certificate: string; validation?: string } = { certificate: `file-cert:${t.serverCertificate}~${t.privateKey}` };
  if (t.mode === 'MUTUAL' && t.caCertificates) out.validation = `file-root:${t.caCertificates}`;
  return out;
}

/** The inline secrets of a usable credential. */
function credentialSecrets(c: Extract<UsableCredential, { ok: true }>, out: Map<string, Secret>): void {
  if (c.cert && c.key) out.set(credentialCertName(c), { name: credentialCertName(c), kind: 'tls-certificate', certificateChain: c.cert, privateKey: c.key });
  if (c.ca) out.set(credentialCaName(c), { name: credentialCaName(c), kind: 'validation', trustedCa: c.ca });
}

function certSecret(cert: string, key: string): Secret {
  return { name: `file-cert:${cert}~${key}`, kind: 'tls-certificate', certificateChain: `file:${cert}`, privateKey: `file:${key}` };
}
function rootSecret(ca: string): Secret {
  return { name: `file-root:${ca}`, kind: 'validation', trustedCa: `file:${ca}` };
}

function policySecrets(snap: MeshSnapshot, proxy: ProxyInfo, tp: TrafficPolicy | undefined, out: Map<string, Secret>): void {
  if (!tp) return;
  for (const tls of [tp.tls, ...(tp.portLevelSettings ?? []).map((p) => p.tls)]) {
    if (!tls || (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL')) continue;
    if (tls.credentialName) {
      const c = usableCredential(snap, proxy, tls.credentialName);
      if (c.ok) credentialSecrets(c, out);
      continue;
    }
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
  kinds: ['Gateway', 'DestinationRule', 'credentials'],
  parts(snap: MeshSnapshot, proxy: ProxyInfo): OutputPart[] {
    return [{
      scope: `own:${proxy.node.id}`,
      build: () => {
        const out = new Map<string, Secret>(workloadSecretPlaceholders().map((s) => [s.name, s]));
        for (const dr of snap.configs('DestinationRule')) {
          const spec = dr.spec as DestinationRuleSpec;
          policySecrets(snap, proxy, spec.trafficPolicy, out);
          for (const s of spec.subsets ?? []) policySecrets(snap, proxy, s.trafficPolicy, out);
        }
        for (const list of serversByPort(snap, proxy).values()) {
          for (const b of list.filter(terminatesTls)) {
            const t = b.server.tls!;
            if (t.credentialName) {
              const c = usableCredential(snap, proxy, t.credentialName);
              if (c.ok) credentialSecrets(c, out);
              continue;
            }
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
