/** SPIFFE ids in peer certificates (`spiffe://TRUST_DOMAIN/ns/NS/sa/SA`); parsing and conversion are src/proxy-config/spiffe.ts's. */

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
