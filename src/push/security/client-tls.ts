/**
 * Client-side TLS toward a service port: the DestinationRule's `tls.mode` (port-level settings
 * override the rule's policy), else auto-mTLS (ISTIO_MUTUAL when mesh config enableAutoMtls is on,
 * the default, and every endpoint of the port runs a Bowline proxy), else plaintext.
 */
import type { Resource } from '../../api/types/meta.js';
import type { DestinationRuleSpec } from '../../api/types/networking.js';
import type { Endpoint, Service } from '../../model/service.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import { formatSpiffeId } from '../../proxy-config/spiffe.js';
import { destinationRuleFor } from '../generators/scope.js';
import { effectivePolicy } from '../generators/traffic-policy.js';
import { serverMtls } from './peer-authentication.js';

/** What a client sends: ISTIO_MUTUAL / MUTUAL / SIMPLE (TLS), or DISABLE (plaintext). */
export type ClientTlsMode = 'ISTIO_MUTUAL' | 'MUTUAL' | 'SIMPLE' | 'DISABLE';

/** The client mode toward one service port and what set it. */
export interface ClientTls {
  mode: ClientTlsMode;
  /** `DestinationRule ns/name`, `auto-mTLS`, or `(no DestinationRule)`. */
  source: string;
  /** True when auto-mTLS decided (ISTIO_MUTUAL: a proxy without a certificate then sends plaintext). */
  auto: boolean;
  /** The DestinationRule consulted, if any (it may decide other things than TLS). */
  rule?: Resource<DestinationRuleSpec>;
}

/** True when auto-mTLS may use ISTIO_MUTUAL toward these endpoints: at least one, all with a proxy. */
export function endpointsSpeakMtls(eps: readonly Endpoint[]): boolean {
  return eps.length > 0 && eps.every((e) => e.tlsMode === 'istio');
}

/** The client mode from namespace `fromNs` toward `svc` port `port` (the subset's policy when `subset` is named). */
export function clientTls(snap: MeshSnapshot, fromNs: string, svc: Service, port: number, subset?: string): ClientTls {
  const rule = destinationRuleFor(snap, svc, fromNs);
  const spec = rule?.spec;
  const ss = subset ? spec?.subsets?.find((s) => s.name === subset) : undefined;
  const tls = effectivePolicy(spec, port, ss).tls;
  const name = rule ? `DestinationRule ${rule.metadata.namespace ?? 'default'}/${rule.metadata.name}` : '';
  if (tls?.mode) {
    const out: ClientTls = { mode: tls.mode, source: name, auto: false };
    if (rule) out.rule = rule;
    return out;
  }
  const eps = (snap.endpointsByService.get(svc.hostname) ?? []).filter((e) => e.servicePort === port);
  if (snap.mesh.enableAutoMtls !== false && isLegacyGlobalHost(svc)) {
    // The multicluster install of Istio's `.global` model shipped a `*.global` DestinationRule with ISTIO_MUTUAL: the seed's
    // ServiceEntry (endpoint = the remote east-west gateway on 15443) works as written, mTLS end to end.
    const out: ClientTls = { mode: 'ISTIO_MUTUAL', source: 'multicluster: a MESH_INTERNAL *.global host', auto: true };
    if (rule) out.rule = rule;
    return out;
  }
  if (snap.mesh.enableAutoMtls !== false && svc.location !== 'MESH_EXTERNAL' && endpointsSpeakMtls(eps)) {
    // As Istio: auto-mTLS sends plaintext when the destination's workloads disable mTLS.
    const disabled = eps.every((e) => serverMtls(snap, { namespace: e.namespace, labels: e.labels }, [port, e.port]).mode === 'DISABLE');
    const out: ClientTls = disabled ? { mode: 'DISABLE', source: 'auto-mTLS (the server disables mTLS)', auto: true } : { mode: 'ISTIO_MUTUAL', source: 'auto-mTLS', auto: true };
    if (rule) out.rule = rule;
    return out;
  }
  const out: ClientTls = { mode: 'DISABLE', source: rule ? `${name} (no tls settings)` : '(no DestinationRule)', auto: false };
  if (rule) out.rule = rule;
  return out;
}

/** True for Istio's legacy multicluster hosts: `NAME.NAMESPACE.global`, MESH_INTERNAL (a ServiceEntry toward a remote cluster's gateway). */
export function isLegacyGlobalHost(svc: Service): boolean {
  return svc.location === 'MESH_INTERNAL' && svc.hostname.endsWith('.global');
}

/** The SPIFFE ids the workloads behind a service port run as, sorted (ISTIO_MUTUAL's subjectAltNames). */
export function serviceIdentities(snap: MeshSnapshot, svc: Service, port: number): string[] {
  const ids = new Set<string>();
  for (const e of snap.endpointsByService.get(svc.hostname) ?? []) {
    if (e.servicePort === port && e.serviceAccount) ids.add(formatSpiffeId({ trustDomain: snap.mesh.trustDomain, namespace: e.namespace, serviceAccount: e.serviceAccount }));
  }
  return [...ids].sort();
}
