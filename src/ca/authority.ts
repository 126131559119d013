import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { CA_ERRORS, CaError } from './errors.js';
import { issueCertificate, makeSigner, type Signer } from './issue.js';
import { open, seal, type Kek, type SealedBox } from './kek.js';
import { verifyCsr } from './csr.js';
import { createRootCa, loadCacerts, ROOT_LIFETIME_MS, splitPemCertificates, type CaKeyPair, type Cacerts } from './root.js';
import { checkTrustDomain, spiffeId, type WorkloadIdentity } from './spiffe.js';
import { DEFAULT_TRUST_DOMAIN, parseSpiffeId } from '../proxy-config/spiffe.js';
import { isConflict, type CaStorage } from './storage.js';
import { createBootstrapToken, isBootstrapToken, verifyBootstrapToken, type BootstrapClaims, type TokenRequest } from './token.js';

/** Options of the CA; everything but storage and kek has a default. */
export interface CaOptions {
  /** Where the CA state lives: the control plane's Store (raw keys under `ca/`). */
  storage: CaStorage;
  /** Key-encryption key for the private keys at rest (see loadKek). */
  kek: Kek;
  /** SPIFFE trust domain, default `cluster.local`. */
  trustDomain?: string;
  /** Istio-style `cacerts` directory: sign with that CA instead of a generated root. */
  cacertsDir?: string;
  /** Default workload certificate lifetime, default 24 h. */
  workloadLifetimeMs?: number;
  /** Longest lifetime a caller may ask for, default 7 days. */
  maxWorkloadLifetimeMs?: number;
  /** How far notBefore is backdated for clock skew, default 5 min. */
  skewMs?: number;
  /** Lifetime of generated roots, default 10 years. */
  rootLifetimeMs?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
  /** Generate a root although the store holds data but no CA state (`bowline up --new-root`). Default false: CaError STATE_MISSING. */
  allowNewRoot?: boolean;
  /** Whether the store holds anything at all (a store with data but no CA state lost it: refuse rather than mint a new root). */
  storeHasData?: () => Promise<boolean>;
  /**
   * Verifies a credential that is not a Bowline bootstrap token (a Kubernetes service-account
   * token of audience istio-ca, by a TokenReview: src/control/kube-token-review.ts); resolves to the
   * identity it proves, or rejects (CaError UNAUTHENTICATED with the reason). Absent: only Bowline's tokens.
   */
  reviewToken?: (token: string) => Promise<WorkloadIdentity>;
}

/** A signed workload or server certificate and what a TLS endpoint needs with it. */
export interface IssuedCertificate {
  /** The leaf alone (PEM). */
  certificatePem: string;
  /** Leaf plus intermediates, for a TLS `cert` option (PEM). */
  chainPem: string;
  /** Every trusted root (PEM), for a TLS `ca` option. */
  trustBundlePem: string;
  /** The SPIFFE id in the SAN (workload certificates). */
  spiffeId?: string;
  notBefore: number;
  notAfter: number;
  /** Serial number, hex. */
  serial: string;
}

/** Where a root rotation stands: `steady` (one root), `trusting-new` (both trusted, old signs), `issuing-from-new` (both trusted, new signs). */
export type RotationPhase = 'steady' | 'trusting-new' | 'issuing-from-new';

/** A root rotation's state as `GET /v1/ca/rotation` and `bowline ca rotation status` show it. */
export interface RotationStatus {
  phase: RotationPhase;
  /** Where the signing CA comes from (only a generated root is rotated by these steps). */
  source: 'generated' | 'cacerts-dir' | 'cacerts-secret';
  /** Every root in the trust bundle. */
  roots: Array<{ subject: string; fingerprint256: string; notAfter: string; signing: boolean }>;
  /** In phase issuing-from-new: when finish stops being refused (old-root certificates have expired). */
  finishAfter?: string;
}

interface StoredState {
  version: 1;
  roots: Array<{ certPem: string; key: SealedBox }>;
  /** Index into roots of the one that signs. */
  signing: number;
  /** During a rotation: when the new root started signing (ms since epoch), so finish knows when old-root certificates are gone. */
  issuingSince?: number;
}

const STATE_KEY = 'ca/state';
const TOKEN_KEY = 'ca/token-key';
const USED_TOKEN_PREFIX = 'ca/tokens/used/';
/** Use counters of reusable tokens (`bowline token create --max-uses N`). */
const TOKEN_USES_PREFIX = 'ca/tokens/uses/';

/** The purpose string a root's sealed key is bound to. */
function rootPurpose(certPem: string): string {
  return `ca/root/${new X509Certificate(certPem).fingerprint256}`;
}

/**
 * Bowline's certificate authority: signs workload certificates from CSRs for exactly the identity
 * a credential allows, issues the control plane's serving certificate, mints and redeems bootstrap
 * tokens, and rotates its root with an overlap period. Create it with `CertificateAuthority.open`.
 */
export class CertificateAuthority {
  /** The SPIFFE trust domain this CA issues for. */
  readonly trustDomain: string;
  /** `generated` (root kept in the store) or `cacerts` (user-supplied files). */
  readonly mode: 'generated' | 'cacerts';
  private signer!: Signer;
  private intermediates: string[] = [];
  private roots: string[] = [];
  private state: StoredState | undefined;
  private stateRevision = 0;
  /** The signing CA before a `cacerts` Secret was plugged in (restored when the Secret goes away). */
  private unplugged: { signer: Signer; intermediates: string[]; roots: string[] } | undefined;
  /** Where the signing CA comes from now: `generated`, `cacerts-dir` or `cacerts-secret`. */
  private currentSource: 'generated' | 'cacerts-dir' | 'cacerts-secret' = 'generated';
  /** Roots no longer signing but still trusted until `until` (ms): workloads hold certificates they signed. */
  private retiring: Array<{ pem: string; until: number }> = [];
  private retireTimer: NodeJS.Timeout | undefined;
  private tokenKey!: Buffer;
  private readonly listeners = new Set<() => void>();
  private readonly now: () => number;
  /** Counters for metrics: certificates issued and refusals by error code. */
  readonly counters = { issued: 0, refused: new Map<string, number>() };

  private constructor(private readonly opts: CaOptions) {
    this.trustDomain = checkTrustDomain(opts.trustDomain ?? DEFAULT_TRUST_DOMAIN);
    this.mode = opts.cacertsDir ? 'cacerts' : 'generated';
    this.now = opts.now ?? Date.now;
  }

  /**
   * Loads the CA at start-up (or creates its root on first start). Every stored key is decrypted
   * here, so a wrong key-encryption key fails now with CaError KEK_MISMATCH, never later.
   */
  static async open(opts: CaOptions): Promise<CertificateAuthority> {
    const ca = new CertificateAuthority(opts);
    if (opts.cacertsDir) {
      const c = loadCacerts(opts.cacertsDir);
      ca.signer = makeSigner(c.signing.certPem, c.signing.keyPem);
      ca.intermediates = c.intermediatesPem;
      ca.roots = c.rootsPem;
      ca.currentSource = 'cacerts-dir';
    } else {
      await ca.loadOrCreateState();
    }
    ca.tokenKey = await ca.loadOrCreateTokenKey();
    return ca;
  }

  private async loadOrCreateState(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const entry = await this.opts.storage.getRaw(STATE_KEY);
      if (entry) return this.applyState(parseState(entry.value), entry.modRevision);
      if (!this.opts.allowNewRoot && ((await this.opts.storage.getRaw(TOKEN_KEY)) || (await this.opts.storeHasData?.()))) {
        throw new CaError(CA_ERRORS.STATE_MISSING, `the store holds data but no CA state (${STATE_KEY}): a new root would make every workload certificate untrusted. Restore the store (\`bowline store restore FILE\`, \`bowline store check\`), plug in the root with --ca-certs-dir, or start once with \`bowline up --new-root\` to accept a new root`);
      }
      const root = await createRootCa({ trustDomain: this.trustDomain, now: this.now(), lifetimeMs: this.opts.rootLifetimeMs ?? ROOT_LIFETIME_MS });
      const state: StoredState = { version: 1, roots: [this.sealRoot(root)], signing: 0 };
      try {
        const rev = await this.opts.storage.putRaw(STATE_KEY, JSON.stringify(state), { expectedModRevision: 0 });
        return this.applyState(state, rev);
      } catch (err) {
        if (!isConflict(err)) throw err; // another replica created the root first: load theirs
      }
    }
    throw new CaError(CA_ERRORS.STATE_CORRUPT, `could not create or load ${STATE_KEY}: it keeps changing`);
  }

  private sealRoot(root: CaKeyPair): StoredState['roots'][number] {
    return { certPem: root.certPem, key: seal(this.opts.kek, Buffer.from(root.keyPem), rootPurpose(root.certPem)) };
  }

  private applyState(state: StoredState, revision: number): void {
    const keys = state.roots.map((r) => open(this.opts.kek, r.key, rootPurpose(r.certPem)).toString('utf8'));
    const i = state.signing;
    const own = { signer: makeSigner(state.roots[i]!.certPem, keys[i]!), roots: state.roots.map((r) => r.certPem), intermediates: [] as string[] };
    if (this.unplugged) this.unplugged = own; // a plugged-in cacerts Secret keeps signing
    else ({ signer: this.signer, roots: this.roots, intermediates: this.intermediates } = own);
    this.state = state;
    this.stateRevision = revision;
    for (const l of this.listeners) l();
  }

  private async loadOrCreateTokenKey(): Promise<Buffer> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const entry = await this.opts.storage.getRaw(TOKEN_KEY);
      if (entry) return open(this.opts.kek, JSON.parse(entry.value) as SealedBox, TOKEN_KEY);
      const key = randomBytes(32);
      try {
        await this.opts.storage.putRaw(TOKEN_KEY, JSON.stringify(seal(this.opts.kek, key, TOKEN_KEY)), { expectedModRevision: 0 });
        return key;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    throw new CaError(CA_ERRORS.STATE_CORRUPT, `could not create or load ${TOKEN_KEY}`);
  }

  /** Re-reads the stored state (call when a watch on `ca/state` reports another replica's change). */
  async reload(): Promise<void> {
    if (this.mode !== 'generated') return;
    const entry = await this.opts.storage.getRaw(STATE_KEY);
    if (entry && entry.modRevision !== this.stateRevision) this.applyState(parseState(entry.value), entry.modRevision);
  }

  /** Calls `listener` whenever the trust bundle or signing root changes (push re-sends bundles). Returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every trusted root, PEM, concatenated: what proxies put in their TLS `ca`. */
  trustBundlePem(): string {
    return this.trustedRoots().join('');
  }

  /** The signing roots, then roots still trusted during a switch of the signing CA. */
  private trustedRoots(): string[] {
    const now = this.now();
    return [...this.roots, ...this.retiring.filter((r) => r.until > now && !this.roots.includes(r.pem)).map((r) => r.pem)];
  }

  /** Where the signing CA comes from: `generated` (root in the store), `cacerts-dir` (--ca-certs-dir) or `cacerts-secret` (the `cacerts` Secret). */
  get source(): 'generated' | 'cacerts-dir' | 'cacerts-secret' {
    return this.currentSource;
  }

  /**
   * Signs with `cacerts` from now on (the `cacerts` Secret in the root namespace, which wins over
   * --ca-certs-dir and the generated root), or, with undefined, returns to the CA used before.
   * Roots that stop signing stay in the trust bundle for one default workload lifetime, so every
   * workload holds a certificate from the new CA before the old root is dropped (no restart).
   */
  plugIn(cacerts: Cacerts | undefined): void {
    const before = { signer: this.signer, intermediates: this.intermediates, roots: this.roots };
    if (cacerts) {
      this.unplugged ??= before;
      this.signer = makeSigner(cacerts.signing.certPem, cacerts.signing.keyPem);
      this.intermediates = cacerts.intermediatesPem;
      this.roots = cacerts.rootsPem;
      this.currentSource = 'cacerts-secret';
    } else {
      if (!this.unplugged) return;
      ({ signer: this.signer, intermediates: this.intermediates, roots: this.roots } = this.unplugged);
      this.unplugged = undefined;
      this.currentSource = this.opts.cacertsDir ? 'cacerts-dir' : 'generated';
    }
    const until = this.now() + this.lifetime(undefined) + (this.opts.skewMs ?? 5 * 60_000);
    for (const pem of before.roots) if (!this.roots.includes(pem)) this.retiring.push({ pem, until });
    this.retiring = this.retiring.filter((r) => r.until > this.now() && !this.roots.includes(r.pem));
    this.scheduleRetirement();
    for (const l of this.listeners) l();
  }

  /** Tells listeners when the next retiring root leaves the bundle (timer unref'd; trustBundlePem reads the clock anyway). */
  private scheduleRetirement(): void {
    if (this.retireTimer) clearTimeout(this.retireTimer);
    this.retireTimer = undefined;
    const next = Math.min(...this.retiring.map((r) => r.until));
    if (!Number.isFinite(next)) return;
    this.retireTimer = setTimeout(() => {
      this.retiring = this.retiring.filter((r) => r.until > this.now());
      this.scheduleRetirement();
      for (const l of this.listeners) l();
    }, Math.min(2 ** 31 - 1, Math.max(1000, next - this.now()))).unref();
  }

  /** The root that anchors the current signing certificate (bootstrap tokens pin it). */
  signingRootPem(): string {
    if (this.currentSource === 'generated') return this.signer.certPem;
    const top = new X509Certificate(this.intermediates[this.intermediates.length - 1] ?? this.signer.certPem);
    return this.roots.find((r) => top.checkIssued(new X509Certificate(r)) || new X509Certificate(r).fingerprint256 === top.fingerprint256) ?? this.roots[0]!;
  }

  private refuse(err: CaError): never {
    this.counters.refused.set(err.code, (this.counters.refused.get(err.code) ?? 0) + 1);
    throw err;
  }

  private lifetime(requested?: number): number {
    const max = this.opts.maxWorkloadLifetimeMs ?? 7 * 24 * 3600_000;
    return Math.min(requested ?? this.opts.workloadLifetimeMs ?? 24 * 3600_000, max);
  }

  private validity(lifetimeMs: number): { notBefore: number; notAfter: number } {
    const now = this.now();
    // Backdated for clock skew by at most a tenth of the lifetime: proxies renew at half-life counted from notBefore,
    // so a 5 min backdate on a 1 min certificate made them renew again at once, forever.
    const skew = Math.min(this.opts.skewMs ?? 5 * 60_000, Math.floor(lifetimeMs / 10));
    return { notBefore: Math.max(now - skew, this.signer.notBefore), notAfter: Math.min(now + lifetimeMs, this.signer.notAfter) };
  }

  /**
   * Signs a workload certificate from a PEM/DER CSR, for exactly `allowed` (the identity the
   * caller's token or current certificate proves). The CSR must ask for that SPIFFE id as its only
   * SAN; otherwise CaError CSR_IDENTITY. Synchronous: ~0.2 ms.
   */
  signCsr(csr: string | Uint8Array, allowed: WorkloadIdentity | string, opts: { lifetimeMs?: number } = {}): IssuedCertificate {
    try {
      const want = typeof allowed === 'string' ? this.checkOwnId(allowed) : spiffeId(this.trustDomain, allowed);
      const req = verifyCsr(csr);
      const { uris, dnsNames, ips, emails } = req.sans;
      if (uris.length === 0) throw new CaError(CA_ERRORS.CSR_IDENTITY, `CSR names no identity; it must carry the SAN URI ${want}`);
      const other = [...uris.filter((u) => u !== want), ...dnsNames, ...ips, ...emails];
      if (other.length > 0) throw new CaError(CA_ERRORS.CSR_IDENTITY, `CSR asks for ${other.join(', ')} but the credential allows only ${want}`);
      const { notBefore, notAfter } = this.validity(this.lifetime(opts.lifetimeMs));
      const cert = issueCertificate(this.signer, { spki: req.spki, notBefore, notAfter, uris: [want] });
      this.counters.issued += 1;
      return { certificatePem: cert.pem, chainPem: cert.pem + this.intermediates.join(''), trustBundlePem: this.trustBundlePem(), spiffeId: want, notBefore, notAfter, serial: cert.serial };
    } catch (err) {
      if (err instanceof CaError) this.refuse(err);
      throw err;
    }
  }

  private checkOwnId(id: string): string {
    const p = parseSpiffeId(id);
    if (!p) throw new CaError(CA_ERRORS.CSR_IDENTITY, `"${id}" is not a SPIFFE id of the form spiffe://TRUST_DOMAIN/ns/NS/sa/SA`);
    if (p.trustDomain !== this.trustDomain) throw new CaError(CA_ERRORS.CSR_IDENTITY, `identity ${id} is outside this CA's trust domain ${this.trustDomain}`);
    return id;
  }

  /**
   * Issues the control plane's own serving certificate (the TLS push stream on 15012) from the
   * same root, with a fresh P-256 key: DNS and IP SANs, optional URIs. Default lifetime 30 days.
   */
  issueServingCertificate(opts: { dnsNames?: string[]; ips?: string[]; uris?: string[]; lifetimeMs?: number }): IssuedCertificate & { keyPem: string } {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    const { notBefore, notAfter } = this.validity(opts.lifetimeMs ?? 30 * 24 * 3600_000);
    const cert = issueCertificate(this.signer, {
      spki, notBefore, notAfter, dnsNames: opts.dnsNames ?? [], ips: opts.ips ?? [], uris: opts.uris ?? [],
      commonName: opts.dnsNames?.[0] ?? opts.ips?.[0] ?? 'bowline-control-plane',
    });
    return {
      certificatePem: cert.pem, chainPem: cert.pem + this.intermediates.join(''), trustBundlePem: this.trustBundlePem(),
      notBefore, notAfter, serial: cert.serial, keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    };
  }

  /**
   * The identity a presented client certificate proves (renewal is authenticated by the current
   * certificate): it must chain to a trusted root, be valid now, and carry one of our SPIFFE ids.
   * Returns undefined otherwise. Pass the leaf first, then any intermediates.
   */
  identityFromCertificate(chainPem: string): string | undefined {
    const certs = splitPemCertificates(chainPem).map((p) => new X509Certificate(p));
    const leaf = certs[0];
    if (!leaf) return undefined;
    const now = this.now();
    const trusted = this.trustedRoots();
    const anchors = [...trusted, ...this.intermediates].map((p) => new X509Certificate(p));
    const pool = [...certs.slice(1), ...anchors];
    let cur = leaf;
    for (let depth = 0; depth < 5; depth++) {
      if (Date.parse(cur.validFrom) > now || Date.parse(cur.validTo) < now) return undefined;
      if (trusted.some((r) => new X509Certificate(r).fingerprint256 === cur.fingerprint256)) break;
      const issuer = pool.find((c) => cur.checkIssued(c) && cur.verify(c.publicKey));
      if (!issuer) return undefined;
      cur = issuer;
      if (depth === 4) return undefined;
    }
    const uris = (leaf.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
    return uris.length === 1 && parseSpiffeId(uris[0]!)?.trustDomain === this.trustDomain ? uris[0] : undefined;
  }

  /** Mints a bootstrap token for one identity, pinning the signing root. */
  createToken(req: TokenRequest): { token: string; claims: BootstrapClaims } {
    return createBootstrapToken(req, this.tokenKey, this.signingRootPem(), this.now());
  }

  /**
   * Verifies a bootstrap token and marks its id used (until it expires); returns the identity it
   * allows. Throws CaError TOKEN_INVALID, TOKEN_EXPIRED or TOKEN_REPLAYED.
   */
  async redeemToken(token: string): Promise<WorkloadIdentity & { workload?: string }> {
    try {
      const now = this.now();
      const c = verifyBootstrapToken(token, this.tokenKey, now);
      if ((c.max ?? 1) > 1) {
        await this.spendReusable(c, now);
        return { namespace: c.ns, serviceAccount: c.sa, ...(c.wl ? { workload: c.wl } : {}) };
      }
      try {
        await this.opts.storage.putRaw(USED_TOKEN_PREFIX + c.jti, String(c.exp), { expectedModRevision: 0, ttlMs: Math.max(1000, c.exp * 1000 - now + 60_000) });
      } catch (err) {
        if (isConflict(err)) throw new CaError(CA_ERRORS.TOKEN_REPLAYED, `bootstrap token ${c.jti} was already used; tokens are single-use for first contact, create a new one`);
        throw err;
      }
      return { namespace: c.ns, serviceAccount: c.sa, ...(c.wl ? { workload: c.wl } : {}) };
    } catch (err) {
      if (err instanceof CaError) this.refuse(err);
      throw err;
    }
  }

  /**
   * First contact: signs `csr` for the identity `token` allows, and spends the token only once the
   * certificate is signed. A CSR refused for its identity (or a token for another identity than
   * `opts.expect`, the SPIFFE id the stream's hello speaks for) leaves the token unspent, so the
   * proxy can retry with a correct CSR. Throws CaError TOKEN_*, CSR_* or UNAUTHENTICATED.
   */
  async signWithToken(csr: string | Uint8Array, token: string, opts: { expect?: string; lifetimeMs?: number } = {}): Promise<IssuedCertificate> {
    if (this.opts.reviewToken && !isBootstrapToken(token)) return this.signWithReviewedToken(csr, token, opts);
    let claims: BootstrapClaims;
    try {
      claims = verifyBootstrapToken(token, this.tokenKey, this.now());
      if ((claims.max ?? 1) > 1) {
        const used = Number((await this.opts.storage.getRaw(TOKEN_USES_PREFIX + claims.jti))?.value ?? 0);
        if (used >= claims.max!) throw new CaError(CA_ERRORS.TOKEN_EXHAUSTED, `bootstrap token ${claims.jti} for ${claims.ns}/${claims.sa} has bootstrapped its ${claims.max} workloads; create a new one with \`bowline token create --max-uses N\``);
      } else if (await this.opts.storage.getRaw(USED_TOKEN_PREFIX + claims.jti)) throw new CaError(CA_ERRORS.TOKEN_REPLAYED, `bootstrap token ${claims.jti} was already used; tokens are single-use for first contact, create a new one`);
    } catch (err) {
      if (err instanceof CaError) this.refuse(err);
      throw err;
    }
    const id = spiffeId(this.trustDomain, { namespace: claims.ns, serviceAccount: claims.sa });
    if (opts.expect !== undefined && opts.expect !== id) this.refuse(new CaError(CA_ERRORS.UNAUTHENTICATED, `the bootstrap token is for ${id}, but the stream speaks for ${opts.expect}; the token was not spent`));
    const out = this.signCsr(csr, id, opts.lifetimeMs !== undefined ? { lifetimeMs: opts.lifetimeMs } : {});
    await this.redeemToken(token);
    return out;
  }

  /** First contact with a platform's token (reviewToken): nothing is spent, the platform bounds its validity (a bound token dies with its pod). */
  private async signWithReviewedToken(csr: string | Uint8Array, token: string, opts: { expect?: string; lifetimeMs?: number }): Promise<IssuedCertificate> {
    let who: WorkloadIdentity;
    try {
      who = await this.opts.reviewToken!(token);
    } catch (err) {
      this.refuse(err instanceof CaError ? err : new CaError(CA_ERRORS.UNAUTHENTICATED, `the token could not be reviewed: ${(err as Error).message}`));
    }
    const id = spiffeId(this.trustDomain, who);
    if (opts.expect !== undefined && opts.expect !== id) this.refuse(new CaError(CA_ERRORS.UNAUTHENTICATED, `the service-account token is for ${id}, but the stream speaks for ${opts.expect}`));
    return this.signCsr(csr, id, opts.lifetimeMs !== undefined ? { lifetimeMs: opts.lifetimeMs } : {});
  }

  /** Counts one use of a reusable token (compare-and-swap on its use counter); throws TOKEN_EXHAUSTED past its limit. */
  private async spendReusable(c: BootstrapClaims, now: number): Promise<void> {
    const key = TOKEN_USES_PREFIX + c.jti;
    const ttlMs = Math.max(1000, c.exp * 1000 - now + 60_000);
    for (let attempt = 0; attempt < 50; attempt++) {
      const cur = await this.opts.storage.getRaw(key);
      const used = cur ? Number(cur.value) : 0;
      if (!Number.isInteger(used) || used < 0) throw new CaError(CA_ERRORS.TOKEN_INVALID, `the use counter of bootstrap token ${c.jti} is damaged ("${cur?.value}"); create a new token`);
      if (used >= c.max!) throw new CaError(CA_ERRORS.TOKEN_EXHAUSTED, `bootstrap token ${c.jti} for ${c.ns}/${c.sa} has bootstrapped its ${c.max} workloads; create a new one with \`bowline token create --max-uses N\``);
      try {
        await this.opts.storage.putRaw(key, String(used + 1), { expectedModRevision: cur?.modRevision ?? 0, ttlMs });
        return;
      } catch (err) {
        if (!isConflict(err)) throw err; // another instance used it at the same moment: read again
      }
    }
    throw new CaError(CA_ERRORS.TOKEN_EXHAUSTED, `bootstrap token ${c.jti}: too many concurrent uses; retry`);
  }

  /** Where a root rotation stands. */
  rotationPhase(): RotationPhase {
    if (!this.state || this.state.roots.length === 1) return 'steady';
    return this.state.signing === 0 ? 'trusting-new' : 'issuing-from-new';
  }

  /**
   * Starts a root rotation: a new root joins the trust bundle ([old, new]). With `issueFromNew`
   * (default) the new root signs from now on; with false the old keeps signing until
   * `issueFromNewRoot()` (use that when proxies must all hold the new bundle first).
   */
  async startRootRotation(opts: { issueFromNew?: boolean } = {}): Promise<void> {
    const state = this.requirePhase('steady', 'startRootRotation');
    const root = await createRootCa({ trustDomain: this.trustDomain, now: this.now(), lifetimeMs: this.opts.rootLifetimeMs ?? ROOT_LIFETIME_MS });
    const issueFromNew = opts.issueFromNew !== false;
    await this.writeState({ version: 1, roots: [state.roots[0]!, this.sealRoot(root)], signing: issueFromNew ? 1 : 0, ...(issueFromNew ? { issuingSince: this.now() } : {}) });
  }

  /** Where a root rotation stands, for operators: the phase, each trusted root (signing or not) and when finish is safe. */
  rotationStatus(): RotationStatus {
    const signing = new X509Certificate(this.signingRootPem()).fingerprint256;
    const roots = this.trustedRoots().map((pem) => {
      const c = new X509Certificate(pem);
      return { subject: c.subject.replace(/\n/g, ', '), fingerprint256: c.fingerprint256, notAfter: new Date(c.validTo).toISOString(), signing: c.fingerprint256 === signing };
    });
    const gone = this.oldRootCertificatesGoneAt();
    return { phase: this.rotationPhase(), source: this.source, roots, ...(gone !== undefined ? { finishAfter: new Date(gone).toISOString() } : {}) };
  }

  /** Switches signing to the new root (after startRootRotation({issueFromNew:false})). */
  async issueFromNewRoot(): Promise<void> {
    const state = this.requirePhase('trusting-new', 'issueFromNewRoot');
    await this.writeState({ ...state, signing: 1, issuingSince: this.now() });
  }

  /**
   * When every workload certificate the old root signed has expired: the new root's first signature
   * plus the longest workload lifetime and the clock-skew backdate. Undefined outside 'issuing-from-new'
   * (or for a state written before this was recorded).
   */
  oldRootCertificatesGoneAt(): number | undefined {
    if (this.rotationPhase() !== 'issuing-from-new' || this.state?.issuingSince === undefined) return undefined;
    return this.state.issuingSince + this.lifetime(Number.MAX_SAFE_INTEGER) + (this.opts.skewMs ?? 5 * 60_000);
  }

  /**
   * Ends a rotation: the old root leaves the trust bundle; certificates it signed stop being accepted.
   * Refused while certificates the old root signed may still be in use (see oldRootCertificatesGoneAt),
   * unless `force`: a workload still holding one would then fail every mTLS handshake.
   */
  async finishRootRotation(opts: { force?: boolean } = {}): Promise<void> {
    const state = this.requirePhase('issuing-from-new', 'finishRootRotation');
    const gone = this.oldRootCertificatesGoneAt();
    if (!opts.force && gone !== undefined && this.now() < gone) {
      throw new CaError(CA_ERRORS.ROTATION_STATE, `finishRootRotation: workload certificates signed by the old root may be valid until ${new Date(gone).toISOString()} (the longest workload lifetime after the new root started signing); finish then, or force it (workloads still holding an old-root certificate then fail mTLS until they renew)`);
    }
    await this.writeState({ version: 1, roots: [state.roots[1]!], signing: 0 });
  }

  private requirePhase(phase: RotationPhase, step: string): StoredState {
    if (this.currentSource !== 'generated' || !this.state) {
      throw new CaError(CA_ERRORS.ROTATION_STATE, `${step}: a CA loaded from cacerts files is rotated by replacing the files (put old and new roots in root-cert.pem during the overlap)`);
    }
    const now = this.rotationPhase();
    if (now !== phase) throw new CaError(CA_ERRORS.ROTATION_STATE, `${step} needs rotation phase "${phase}" but it is "${now}"`);
    return this.state;
  }

  private async writeState(state: StoredState): Promise<void> {
    const rev = await this.opts.storage.putRaw(STATE_KEY, JSON.stringify(state), { expectedModRevision: this.stateRevision });
    this.applyState(state, rev);
  }
}

function parseState(text: string): StoredState {
  try {
    const s = JSON.parse(text) as StoredState;
    if (s.version !== 1 || !Array.isArray(s.roots) || s.roots.length === 0 || !s.roots[s.signing]) throw new Error('unexpected shape');
    return s;
  } catch (err) {
    throw new CaError(CA_ERRORS.STATE_CORRUPT, `the CA state in the store (${STATE_KEY}) cannot be read: ${(err as Error).message}`, { cause: err });
  }
}
