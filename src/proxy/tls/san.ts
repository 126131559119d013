/**
 * Subject-alternative-name checks shared by both TLS sides: a peer certificate is accepted
 * when one of its SANs (DNS, URI such as a SPIFFE id, IP) equals an allowed name. DNS entries
 * in the allowed list may be `*.example.com` wildcards (one label).
 */
import type { PeerCertificate } from 'node:tls';

/** The SAN values of a certificate, without their `DNS:` / `URI:` / `IP Address:` prefixes. */
export function sanValues(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): string[] {
  const raw = cert?.subjectaltname;
  if (!raw) return [];
  const out: string[] = [];
  for (const part of raw.split(', ')) {
    const i = part.indexOf(':');
    if (i > 0) out.push(part.slice(i + 1));
  }
  return out;
}

/** The SPIFFE id among a certificate's SANs, or ''. */
export function spiffeId(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): string {
  for (const v of sanValues(cert)) if (v.startsWith('spiffe://')) return v;
  return '';
}

/** Whether one of `cert`'s SANs is in `allowed` (exact, or a `*.` DNS wildcard). */
export function sanAllowed(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined, allowed: readonly string[]): boolean {
  const sans = sanValues(cert);
  for (const a of allowed) {
    for (const s of sans) {
      if (s === a) return true;
      if (a.startsWith('*.') && !s.startsWith('spiffe://')) {
        const dot = s.indexOf('.');
        if (dot > 0 && s.slice(dot).toLowerCase() === a.slice(1).toLowerCase()) return true;
      }
    }
  }
  return false;
}
