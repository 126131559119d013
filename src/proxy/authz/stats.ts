/**
 * Security counters of a proxy, kept as numeric fields of its ProxyStats so /stats serves them:
 * refusals by reason (mTLS peer checks, plaintext toward STRICT, JWT, authorization).
 */
import type { ProxyContext } from '../context.js';

/** The counters. */
export interface SecurityCounters {
  authzDenied: number;
  jwtRejected: number;
  mtlsPlaintextRefused: number;
  mtlsPeerUntrusted: number;
  mtlsPeerTrustDomain: number;
  mtlsPeerExpired: number;
  mtlsPeerNotYetValid: number;
  mtlsPeerNoCertificate: number;
}

const KEYS: Array<keyof SecurityCounters> = ['authzDenied', 'jwtRejected', 'mtlsPlaintextRefused', 'mtlsPeerUntrusted', 'mtlsPeerTrustDomain', 'mtlsPeerExpired', 'mtlsPeerNotYetValid', 'mtlsPeerNoCertificate'];
const BY_CODE: Record<string, keyof SecurityCounters> = {
  BOWLINE_E_TLS_PEER_UNTRUSTED: 'mtlsPeerUntrusted',
  BOWLINE_E_TLS_PEER_TRUST_DOMAIN: 'mtlsPeerTrustDomain',
  BOWLINE_E_TLS_PEER_EXPIRED: 'mtlsPeerExpired',
  BOWLINE_E_TLS_PEER_NOT_YET_VALID: 'mtlsPeerNotYetValid',
  BOWLINE_E_TLS_PEER_NO_CERTIFICATE: 'mtlsPeerNoCertificate',
  BOWLINE_E_TLS_PLAINTEXT_REFUSED: 'mtlsPlaintextRefused',
};
const seen = new WeakSet<object>();

/** The proxy's security counters (created at zero on first use). */
export function securityStats(ctx: Pick<ProxyContext, 'stats'>): SecurityCounters {
  const s = ctx.stats as unknown as SecurityCounters;
  if (!seen.has(s)) {
    seen.add(s);
    for (const k of KEYS) if (typeof s[k] !== 'number') s[k] = 0;
  }
  return s;
}

/** Counts a refusal whose message carries a BOWLINE_E_ code (no-op for other codes). */
export function countRefusal(ctx: Pick<ProxyContext, 'stats'>, message: string): void {
  const code = /BOWLINE_E_[A-Z_]+/.exec(message)?.[0];
  const key = code ? BY_CODE[code] : undefined;
  if (key) securityStats(ctx)[key]++;
}
