/**
 * RequestAuthentication in the proxy: finds a JWT on an inbound request (Authorization: Bearer by
 * default), checks it against the issuer's JWKS (RS256/384/512, PS256/384/512, ES256/384/512,
 * EdDSA), its exp/nbf (60 s leeway) and audiences, and yields request.auth.* for authorization.
 * As Istio: no token passes (authorization decides); a token that fails gets 401
 * `Jwt verification fails`. Keys from `jwksUri` are kept 20 minutes in the proxy's JwksCache
 * (its authorization slot's), so a new config with the same issuer does not fetch them again.
 */
import type * as Crypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs';
import { createRequire } from 'node:module';
import type { JwtRule } from '../../proxy-config/types.js';
import type { AuthzRequest } from './request.js';

let cryptoModule: typeof Crypto | undefined;
/** node:crypto, required by the first JWKS key or signature: a proxy without RequestAuthentication never loads it (~0.8 MB RSS). */
function nodeCrypto(): typeof Crypto {
  return (cryptoModule ??= createRequire(import.meta.url)('node:crypto') as typeof Crypto);
}

/** Status and body of a request whose JWT failed (Envoy's jwt_authn answer). */
export const JWT_FAILED_STATUS = 401;
/** The body of that 401. */
export const JWT_FAILED_BODY = 'Jwt verification fails';

/** The outcome of authenticating one request. */
export type JwtOutcome =
  | { ok: true; auth?: NonNullable<AuthzRequest['requestAuth']>; rule?: JwtRule }
  | { ok: false; reason: string };

/** A compiled set of JWT rules. */
export interface JwtAuthenticator {
  readonly enabled: boolean;
  /** Authenticates a request from its header and path (query). Never throws. */
  authenticate(header: (name: string) => string | undefined, path: string): JwtOutcome;
}

/** The authenticator for a proxy without RequestAuthentication. */
export const NO_JWT: JwtAuthenticator = Object.freeze({ enabled: false, authenticate: () => ({ ok: true as const }) });

const ALGS: Record<string, { hash: string | null; pss?: boolean; ec?: boolean }> = {
  RS256: { hash: 'sha256' }, RS384: { hash: 'sha384' }, RS512: { hash: 'sha512' },
  PS256: { hash: 'sha256', pss: true }, PS384: { hash: 'sha384', pss: true }, PS512: { hash: 'sha512', pss: true },
  ES256: { hash: 'sha256', ec: true }, ES384: { hash: 'sha384', ec: true }, ES512: { hash: 'sha512', ec: true },
  EdDSA: { hash: null },
};

interface Key { kid?: string; key: KeyObject }

/** Parses a JWKS document into public keys (keys that cannot be imported are skipped). */
export function parseJwks(text: string): Key[] {
  const doc = JSON.parse(text) as { keys?: Array<Record<string, unknown>> };
  const out: Key[] = [];
  for (const jwk of doc.keys ?? []) {
    try {
      out.push({ ...(typeof jwk.kid === 'string' ? { kid: jwk.kid } : {}), key: nodeCrypto().createPublicKey({ key: jwk as never, format: 'jwk' }) });
    } catch { /* unsupported key type: ignored */ }
  }
  return out;
}

/** How long fetched JWKS are kept. */
export const JWKS_TTL_MS = 20 * 60_000;

/** Reads a JWKS document from an http(s) URL (5 s timeout) or a `file:` path. */
function loadJwks(uri: string): Promise<string> {
  if (uri.startsWith('file:')) return new Promise<string>((ok, fail) => readFile(uri.slice(5), 'utf8', (err, text) => (err ? fail(err) : ok(text))));
  return fetch(uri, { signal: AbortSignal.timeout(5000) }).then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.text(); });
}

/** The issuers' keys a proxy fetched from `jwksUri`s, each kept JWKS_TTL_MS; a failed fetch is not kept. One per proxy. */
export class JwksCache {
  private readonly entries = new Map<string, { at: number; keys: Promise<Key[]> }>();
  constructor(private readonly now: () => number = Date.now, private readonly load: (uri: string) => Promise<string> = loadJwks) {}

  /** The keys at `uri`: the kept ones while fresh, else fetched (once for all callers meanwhile). */
  get(uri: string): Promise<Key[]> {
    const at = this.now();
    const hit = this.entries.get(uri);
    if (hit && at - hit.at < JWKS_TTL_MS) return hit.keys;
    const keys = this.load(uri).then(parseJwks);
    const entry = { at, keys };
    this.entries.set(uri, entry);
    keys.catch(() => { if (this.entries.get(uri) === entry) this.entries.delete(uri); });
    return keys;
  }
}

function b64json(part: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

interface CompiledRule { rule: JwtRule; keys: Key[] | undefined; error?: string }

/** Compiles RequestAuthentication rules; `log` hears about JWKS that cannot be loaded; `jwks` keeps fetched keys (the proxy's, across configs). */
export function compileJwt(rules: readonly JwtRule[] | undefined, log: (msg: string) => void = () => {}, now: () => number = Date.now, jwks: JwksCache = new JwksCache(now)): JwtAuthenticator {
  if (!rules?.length) return NO_JWT;
  const compiled: CompiledRule[] = rules.map((rule) => {
    const c: CompiledRule = { rule, keys: undefined };
    try {
      if (rule.jwks) c.keys = parseJwks(rule.jwks);
      else if (rule.jwksUri) {
        jwks.get(rule.jwksUri).then((k) => { c.keys = k; }, (err: Error) => { c.error = `JWKS ${rule.jwksUri} not loaded: ${err.message}`; log(`RequestAuthentication ${rule.policy}: ${c.error} (BOWLINE_E_JWT_JWKS)`); });
      } else c.error = 'no jwks or jwksUri';
    } catch (err) {
      c.error = `JWKS of ${rule.issuer} is not valid JSON: ${(err as Error).message}`;
      log(`RequestAuthentication ${rule.policy}: ${c.error} (BOWLINE_E_JWT_JWKS)`);
    }
    return c;
  });
  return {
    enabled: true,
    authenticate(header, path) {
      const found = findToken(compiled, header, path);
      if (!found) return { ok: true };
      // Only the rules that read the token where it was found may verify it (as Envoy's providers:
      // an issuer's token at another issuer's location is not that issuer's token).
      return check(found.token, found.readers, now());
    },
  };
}

/** The token a rule reads from its locations (its fromHeaders and fromParams, or `Authorization: Bearer`). */
function tokenFor(rule: JwtRule, header: (n: string) => string | undefined, path: string): string | undefined {
  const from = rule.fromHeaders?.length || rule.fromParams?.length ? rule.fromHeaders ?? [] : [{ name: 'authorization', prefix: 'Bearer ' }];
  for (const h of from) {
    const v = header(h.name.toLowerCase());
    if (v === undefined) continue;
    const p = h.prefix ?? '';
    if (v.toLowerCase().startsWith(p.toLowerCase())) return v.slice(p.length).trim();
  }
  if (rule.fromParams?.length) {
    const q = path.indexOf('?');
    if (q >= 0) {
      const params = new URLSearchParams(path.slice(q + 1));
      for (const name of rule.fromParams) { const v = params.get(name); if (v) return v; }
    }
  }
  return undefined;
}

/** The first token any rule finds, and every rule that reads that same token from its own locations. */
function findToken(rules: CompiledRule[], header: (n: string) => string | undefined, path: string): { token: string; readers: CompiledRule[] } | undefined {
  let token: string | undefined;
  const readers: CompiledRule[] = [];
  for (const c of rules) {
    const t = tokenFor(c.rule, header, path);
    if (t === undefined || (token !== undefined && t !== token)) continue;
    token = t;
    readers.push(c);
  }
  return token === undefined ? undefined : { token, readers };
}

function check(token: string, rules: CompiledRule[], nowMs: number): JwtOutcome {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'token is not a JWS (three dot-separated parts)' };
  let head: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    head = b64json(parts[0]!);
    payload = b64json(parts[1]!);
  } catch {
    return { ok: false, reason: 'token header or payload is not base64url JSON' };
  }
  const c = rules.find((r) => r.rule.issuer === payload.iss);
  if (!c) return { ok: false, reason: `issuer ${JSON.stringify(payload.iss)} is not configured` };
  if (!c.keys) return { ok: false, reason: c.error ?? `JWKS of ${c.rule.issuer} not loaded yet` };
  const alg = ALGS[String(head.alg)];
  if (!alg) return { ok: false, reason: `algorithm ${JSON.stringify(head.alg)} not accepted` };
  const data = Buffer.from(`${parts[0]}.${parts[1]}`);
  const sig = Buffer.from(parts[2]!, 'base64url');
  const keys = c.keys.filter((k) => head.kid === undefined || k.kid === undefined || k.kid === head.kid);
  const good = keys.some(({ key }) => {
    try {
      const opts = alg.pss ? { key, padding: nodeCrypto().constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 + (alg.hash === 'sha384' ? 16 : alg.hash === 'sha512' ? 32 : 0) } : alg.ec ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
      return nodeCrypto().verify(alg.hash, data, opts as never, sig);
    } catch {
      return false;
    }
  });
  if (!good) return { ok: false, reason: 'signature does not verify with the issuer\'s keys' };
  const t = nowMs / 1000;
  if (typeof payload.exp === 'number' && t > payload.exp + 60) return { ok: false, reason: 'token expired' };
  if (typeof payload.nbf === 'number' && t < payload.nbf - 60) return { ok: false, reason: 'token not valid yet' };
  const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud.map(String) : [String(payload.aud)];
  if (c.rule.audiences?.length && !aud.some((a) => c.rule.audiences!.includes(a))) return { ok: false, reason: `audiences ${JSON.stringify(aud)} not accepted` };
  const auth: NonNullable<AuthzRequest['requestAuth']> = { principal: `${String(payload.iss)}/${String(payload.sub ?? '')}`, audiences: aud, claims: payload };
  if (typeof payload.azp === 'string') auth.presenter = payload.azp;
  return { ok: true, auth, rule: c.rule };
}
