import { createHash, createHmac, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import { CA_ERRORS, CaError } from './errors.js';
import { isIdentitySegment } from '../proxy-config/spiffe.js';

/**
 * Bootstrap tokens: how a proxy outside Kubernetes proves who it is on first contact.
 *
 * A token is a compact JWS (`header.payload.signature`, base64url) with alg HS256: an HMAC
 * under a 32-byte secret that only the control plane holds (kept encrypted beside the CA key).
 * HMAC rather than ES256 because the only party that ever checks the signature is the control
 * plane that minted it; the proxy checks the control plane the other way round, through the
 * root certificate hash the token carries (like kubeadm's discovery-token-ca-cert-hash).
 * An asymmetric signature would add a key pair to manage and ~10x the cost for no verifier.
 */

/** What a bootstrap token says. */
export interface BootstrapClaims {
  /** Namespace of the identity the token lets its bearer obtain. */
  ns: string;
  /** Service account of that identity. */
  sa: string;
  /** Optional workload name, for logs and the registry. */
  wl?: string;
  /** Unique token id; the CA accepts each id once (replay protection for first contact). */
  jti: string;
  /** Issued at / expires at, seconds since the epoch (JWT convention). */
  iat: number;
  exp: number;
  /** `sha256:HEX` of the root certificate (DER) the proxy must find at the control plane. */
  root: string;
  /** How many first certificates the token may bootstrap (a reusable join token for the instances of
   *  one service, e.g. a Marathon app's tasks); absent: 1 (single use). */
  max?: number;
}

/** What to mint a token for. */
export interface TokenRequest {
  ns: string;
  sa: string;
  workload?: string;
  ttlMs: number;
  /** Uses allowed (default 1; at most MAX_TOKEN_USES). */
  maxUses?: number;
}

/** The most first certificates one reusable token may bootstrap. */
export const MAX_TOKEN_USES = 10_000;

const HEADER = b64url(Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'bowline-bootstrap+jwt' })));

function b64url(b: Buffer): string {
  return b.toString('base64url');
}

let lastHash: { pem: string; hash: string } | undefined;

/** `sha256:HEX` over the DER of the first certificate in `rootPem` (the last answer is remembered). */
export function rootCertificateHash(rootPem: string): string {
  if (lastHash?.pem === rootPem) return lastHash.hash;
  const hash = 'sha256:' + createHash('sha256').update(new X509Certificate(rootPem).raw).digest('hex');
  lastHash = { pem: rootPem, hash };
  return hash;
}

/** Mints a signed token for `(ns, sa)` that expires after `ttlMs` and pins `rootCertPem`. */
export function createBootstrapToken(req: TokenRequest, signingKey: Buffer, rootCertPem: string, now = Date.now()): { token: string; claims: BootstrapClaims } {
  if (!isIdentitySegment(req.ns) || !isIdentitySegment(req.sa)) throw new CaError(CA_ERRORS.TOKEN_INVALID, `invalid identity namespace="${req.ns}" serviceAccount="${req.sa}"`);
  if (!(req.ttlMs > 0) || req.ttlMs > 366 * 24 * 3600_000) throw new CaError(CA_ERRORS.TOKEN_INVALID, `token lifetime must be between 1 ms and one year (got ${req.ttlMs} ms)`);
  if (req.maxUses !== undefined && (!Number.isInteger(req.maxUses) || req.maxUses < 1 || req.maxUses > MAX_TOKEN_USES)) throw new CaError(CA_ERRORS.TOKEN_INVALID, `maxUses must be an integer from 1 to ${MAX_TOKEN_USES} (got ${req.maxUses})`);
  const claims: BootstrapClaims = {
    ns: req.ns,
    sa: req.sa,
    ...(req.workload ? { wl: req.workload } : {}),
    jti: randomBytes(16).toString('hex'),
    iat: Math.floor(now / 1000),
    exp: Math.floor((now + req.ttlMs) / 1000),
    root: rootCertificateHash(rootCertPem),
    ...(req.maxUses !== undefined && req.maxUses > 1 ? { max: req.maxUses } : {}),
  };
  const body = `${HEADER}.${b64url(Buffer.from(JSON.stringify(claims)))}`;
  const sig = createHmac('sha256', signingKey).update(body).digest();
  return { token: `${body}.${b64url(sig)}`, claims };
}

/**
 * Checks a token's signature, shape and expiry at `now`; returns its claims. Throws CaError
 * TOKEN_INVALID (malformed, altered, other key) or TOKEN_EXPIRED. Replay is the caller's
 * concern (CertificateAuthority.redeemToken remembers used ids).
 */
/** Whether `token` has the shape of a Bowline bootstrap token (its header); says nothing about its validity. */
export function isBootstrapToken(token: string): boolean {
  return typeof token === 'string' && token.trim().split('.')[0] === HEADER;
}

export function verifyBootstrapToken(token: string, signingKey: Buffer, now = Date.now()): BootstrapClaims {
  const parts = typeof token === 'string' ? token.trim().split('.') : [];
  if (parts.length !== 3 || parts[0] !== HEADER) throw new CaError(CA_ERRORS.TOKEN_INVALID, 'not a Bowline bootstrap token (expected HEADER.PAYLOAD.SIGNATURE with alg HS256)');
  const expected = createHmac('sha256', signingKey).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2]!, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new CaError(CA_ERRORS.TOKEN_INVALID, 'bootstrap token signature does not verify (altered, or minted by another control plane)');
  }
  let c: BootstrapClaims;
  try {
    c = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as BootstrapClaims;
  } catch (err) {
    throw new CaError(CA_ERRORS.TOKEN_INVALID, 'bootstrap token payload is not JSON', { cause: err });
  }
  if (typeof c.ns !== 'string' || typeof c.sa !== 'string' || typeof c.jti !== 'string' || typeof c.exp !== 'number' || typeof c.root !== 'string' || (c.max !== undefined && (!Number.isInteger(c.max) || c.max < 1))) {
    throw new CaError(CA_ERRORS.TOKEN_INVALID, 'bootstrap token payload lacks ns, sa, jti, exp or root');
  }
  if (c.exp * 1000 <= now) {
    throw new CaError(CA_ERRORS.TOKEN_EXPIRED, `bootstrap token for ${c.ns}/${c.sa} expired at ${new Date(c.exp * 1000).toISOString()}; create a new one with \`bowline token create\``);
  }
  return c;
}
