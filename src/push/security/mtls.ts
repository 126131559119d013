/**
 * mTLS in generated proxy config. Inbound: a sidecar port's filter chains per its server mode
 * (STRICT: one TLS chain that requires a client certificate from the mesh roots; PERMISSIVE: that
 * TLS chain plus the plaintext chain, told apart by the first bytes; DISABLE: plaintext only).
 * Outbound: a cluster's UpstreamTls per the client mode (DestinationRule or auto-mTLS), with
 * ISTIO_MUTUAL checking the server against the SPIFFE ids the destination's workloads run as.
 */
import type { Service } from '../../model/service.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { Cluster, DownstreamTls, FilterChain } from '../../proxy-config/types.js';
import { ROOT_CA_SECRET, WORKLOAD_CERT_SECRET } from '../../proxy-config/workload-secrets.js';
import { clientTls, serviceIdentities } from './client-tls.js';
import { serverMtls, type ServerMtls, type ServerWorkload } from './peer-authentication.js';

/** The mesh's trust domain, then its `trustDomainAliases` (peers from any of them are the mesh's own). */
export function meshTrustDomains(snap: MeshSnapshot): string[] {
  return [...new Set([snap.mesh.trustDomain, ...(snap.mesh.trustDomainAliases ?? [])])];
}

/** The DownstreamTls of a sidecar's mTLS chain; `trustDomain` may list the aliases after the mesh's own. */
export function meshServerTls(http: boolean, trustDomain: string | string[]): DownstreamTls {
  const t: DownstreamTls = {
    certificateSecret: WORKLOAD_CERT_SECRET,
    validationSecret: ROOT_CA_SECRET,
    requireClientCertificate: true,
    trustDomains: Array.isArray(trustDomain) ? trustDomain : [trustDomain],
    minVersion: 'TLSv1.2',
    securityPolicy: 'mutual_tls',
  };
  if (http) t.alpn = ['h2', 'http/1.1'];
  return t;
}

/** The filter chains of one inbound port for its server mode; `plain` is the plaintext chain. */
export function inboundChains(mode: ServerMtls['mode'], plain: FilterChain, trustDomain: string | string[] = 'cluster.local'): FilterChain[] {
  if (mode === 'DISABLE') return [plain];
  const { match: _m, ...rest } = plain;
  const mtls: FilterChain = { ...rest, name: `${plain.name}-mtls`, match: { transportProtocol: 'tls' }, tls: meshServerTls(plain.http !== undefined, trustDomain) };
  if (mode === 'STRICT') return [mtls];
  return [mtls, { ...plain, match: { ...(plain.match ?? {}), transportProtocol: 'raw' } }];
}

/** The server mode of a sidecar's inbound port (service port and the app's port both count for port-level settings). */
export function inboundMode(snap: MeshSnapshot, w: ServerWorkload, port: number, appPort: number): ServerMtls {
  return serverMtls(snap, w, port === appPort ? [port] : [port, appPort]);
}

/**
 * Sets a cluster's upstream TLS for mTLS (after the DestinationRule policy was applied): auto-mTLS
 * when no rule decides, and the destination's identities as subjectAltNames for ISTIO_MUTUAL.
 */
export function applyClientMtls(c: Cluster, snap: MeshSnapshot, svc: Service, port: number, fromNs: string, subset?: string): void {
  const ct = clientTls(snap, fromNs, svc, port, subset);
  if (ct.auto && ct.mode === 'ISTIO_MUTUAL') c.tls = { mode: 'ISTIO_MUTUAL', certificateSecret: WORKLOAD_CERT_SECRET, validationSecret: ROOT_CA_SECRET, auto: true };
  if (c.tls?.mode === 'ISTIO_MUTUAL' && !c.tls.subjectAltNames?.length) {
    const ids = serviceIdentities(snap, svc, port);
    if (ids.length) c.tls.subjectAltNames = ids;
  }
  // Istio's mTLS SNI: an east-west gateway routes the still-encrypted connection by it (AUTO_PASSTHROUGH).
  if (c.tls?.mode === 'ISTIO_MUTUAL' && c.tls.sni === undefined) c.tls.sni = istioMtlsSni(port, subset, svc.hostname);
}

/** Istio's SNI on mTLS connections to a service port: `outbound_.PORT_.SUBSET_.HOST` (empty subset for the whole service). */
export function istioMtlsSni(port: number, subset: string | undefined, host: string): string {
  return `outbound_.${port}_.${subset ?? ''}_.${host}`;
}
