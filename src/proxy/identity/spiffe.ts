/** SPIFFE ids on the proxy side: `spiffe://TRUST_DOMAIN/ns/NS/sa/SA`. */

/** A parsed SPIFFE workload id. */
export interface SpiffeId {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Parses `spiffe://TD/ns/NS/sa/SA`; undefined for anything else. */
export function parseSpiffeId(uri: string): SpiffeId | undefined {
  const m = /^spiffe:\/\/([a-z0-9._-]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (!m || !SEGMENT.test(m[2]!) || !SEGMENT.test(m[3]!)) return undefined;
  return { trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[3]! };
}

/** Formats a SPIFFE id. */
export function formatSpiffeId(id: SpiffeId): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** The URI SANs of a certificate's `subjectaltname` text (as node's getPeerCertificate gives it). */
export function uriSans(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  return subjectaltname.split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
}

/** The SPIFFE id of a peer certificate (its single spiffe:// URI SAN), or undefined. */
export function peerSpiffeId(cert: { subjectaltname?: string } | undefined | null): string | undefined {
  const ids = uriSans(cert?.subjectaltname).filter((u) => u.startsWith('spiffe://'));
  return ids.length === 1 ? ids[0] : undefined;
}

/** Istio's principal form of a SPIFFE id (`cluster.local/ns/NS/sa/SA`), used by authorization. */
export function principalOf(spiffeId: string): string {
  return spiffeId.startsWith('spiffe://') ? spiffeId.slice('spiffe://'.length) : spiffeId;
}
