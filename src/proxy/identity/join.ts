/**
 * A proxy joining the mesh with an identity: its first certificate comes from a CSR sent on the
 * push stream with the bootstrap token, later ones from CSRs authenticated by the current
 * certificate (the TLS stream's client certificate). The key is generated here and never sent.
 * Certificates land in LiveCredentials, which the proxy's listeners and clusters read.
 */
import type { TLSSocket } from 'node:tls';
import type { CertificateMessage } from '../../proxy-config/wire.js';
import { certificateValidity, LiveCredentials, type WorkloadCredentials } from './credentials.js';
import { createKeyAndCsr } from './csr.js';
import { IDENTITY_ERRORS, IdentityError } from './errors.js';
import { fetchPinnedRoot, tlsStreamConnector } from './first-contact.js';
import { CertificateRotator, type RotationClock } from './rotation.js';
import { readBootstrapToken } from './token.js';
import { DEFAULT_TRUST_DOMAIN, formatSpiffeId } from '../../proxy-config/spiffe.js';
import { loadPersistedIdentity, persistIdentity } from './persisted.js';

/** Options of a WorkloadIdentity. */
export interface WorkloadIdentityOptions {
  /** The SPIFFE id to ask for (`spiffe://TD/ns/NS/sa/SA`); the CA signs only what the credential allows. */
  spiffeId: string;
  /** The bootstrap token for the first CSR (single use). */
  token?: string;
  /** Sends a CSR on the stream and resolves with the reply (ControlClient.requestCertificate). */
  request(csr: string, opts: { token?: string }): Promise<CertificateMessage>;
  live?: LiveCredentials;
  clock?: RotationClock;
  random?: () => number;
  log?: (line: string) => void;
  /** Told of every new certificate (after it is installed): `--identity-dir` saves it. */
  onRotated?: (c: WorkloadCredentials) => void;
}

/** Obtains and renews a proxy's workload certificate over the push stream. */
export class WorkloadIdentity {
  readonly live: LiveCredentials;
  readonly rotator: CertificateRotator;
  private started = false;
  /** Renewals that succeeded / failed (for the admin page and tests). */
  issued = 0;
  failures = 0;

  constructor(private readonly opts: WorkloadIdentityOptions) {
    this.live = opts.live ?? new LiveCredentials();
    const log = opts.log ?? ((l: string) => process.stderr.write(`bowline proxy: ${l}\n`));
    this.rotator = new CertificateRotator({
      live: this.live,
      renew: () => this.renew(),
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.random ? { random: opts.random } : {}),
      onError: (err, attempt) => {
        this.failures++;
        log(`${err.message} (attempt ${attempt}; ${err.code})`);
      },
      onClockSkew: (err) => log(`${err.message} (${err.code})`),
      onRotated: (c) => {
        this.issued++;
        opts.onRotated?.(c);
        log(`workload certificate for ${c.spiffeId} installed, valid until ${new Date(c.notAfter).toISOString()}`);
      },
    });
  }

  /** Call once the stream is up: the first certificate is requested at once, renewals follow at about half-life. */
  onConnected(): void {
    if (this.started) return;
    this.started = true;
    this.rotator.start();
  }

  /** Installs a new trust bundle (root rotation) with the current certificate; ignored before the first certificate. */
  updateTrustBundle(rootsPem: string): void {
    const c = this.live.current();
    if (c && c.trustBundlePem !== rootsPem) this.live.update({ ...c, trustBundlePem: rootsPem });
  }

  /** Stops renewing. */
  stop(): void {
    this.rotator.stop();
  }

  private async renew(): Promise<WorkloadCredentials> {
    const { keyPem, csrPem } = await createKeyAndCsr(this.opts.spiffeId);
    const first = this.live.current() === undefined;
    const reply = await this.opts.request(csrPem, first && this.opts.token ? { token: this.opts.token } : {});
    if (reply.error || !reply.certificateChain) {
      throw new IdentityError(IDENTITY_ERRORS.RENEWAL_FAILED, `the control plane refused the CSR for ${this.opts.spiffeId}: ${reply.error ?? 'no certificate in the reply'}${reply.code ? ` (${reply.code})` : ''}`);
    }
    const roots = reply.rootCerts ?? this.live.current()?.trustBundlePem ?? '';
    return { keyPem, chainPem: reply.certificateChain, trustBundlePem: roots, spiffeId: this.opts.spiffeId, ...certificateValidity(reply.certificateChain) };
  }
}

/** What `bowline proxy --token-file` sets up before it connects. */
export interface PreparedIdentity {
  identity: WorkloadIdentity;
  /** The push stream's TLS connect (pinned root, then the workload certificate). */
  connect: (host: string, port: number) => TLSSocket;
  namespace: string;
  serviceAccount: string;
}

/**
 * Reads the bootstrap token, pins the control plane's root (the token's hash, or `caCertFile`),
 * and returns the identity and stream connector; `request` is bound later to the control client.
 */
export async function prepareIdentity(o: { server: { host: string; port: number }; token: string; caCertPem?: string; env?: NodeJS.ProcessEnv; trustDomain?: string; request: WorkloadIdentityOptions['request']; log?: (line: string) => void; identityDir?: string }): Promise<PreparedIdentity> {
  const info = readBootstrapToken(o.token);
  const spiffeId = formatSpiffeId({ trustDomain: o.trustDomain ?? DEFAULT_TRUST_DOMAIN, namespace: info.namespace, serviceAccount: info.serviceAccount });
  const log = o.log ?? ((l: string) => process.stderr.write(`bowline proxy: ${l}\n`));
  // A saved, valid certificate authenticates the stream: the (single-use, probably spent) token is not needed.
  const saved = o.identityDir ? loadPersistedIdentity(o.identityDir, spiffeId) : {};
  if (saved.expiredAt !== undefined) {
    log(`${IDENTITY_ERRORS.EXPIRED}: the workload certificate in ${o.identityDir} expired at ${new Date(saved.expiredAt).toISOString()} (the host was down longer than its lifetime) and cannot renew itself; trying the bootstrap token. If that is spent or expired, make a new bundle (\`bowline vm bundle\`) and run \`bowline join\` again`);
  }
  if (!saved.credentials && info.expiresAt < Date.now()) {
    // Only by this host's clock, which may be off (a VM's often is): the CA judges the token by its own and refuses an
    // expired one with BOWLINE_E_TOKEN_EXPIRED, so say it and ask anyway rather than refuse to start on this clock alone.
    const how = o.identityDir ? 'make a new bundle with `bowline vm bundle` and run `bowline join` again' : 'create a new one with `bowline token create`';
    log(`the bootstrap token expired at ${new Date(info.expiresAt).toISOString()} by this host's clock (${new Date().toISOString()}); asking the control plane anyway, whose clock decides. If it refuses the token (BOWLINE_E_TOKEN_EXPIRED), ${how}; if not, this host's clock is off`);
  }
  // A Kubernetes service-account token pins no root: the injector gives its hash in BOWLINE_CA_ROOT_HASH.
  const pin = info.rootHash ?? (o.env ?? process.env).BOWLINE_CA_ROOT_HASH;
  if (!o.caCertPem && !pin) throw new IdentityError(IDENTITY_ERRORS.TOKEN_MALFORMED, 'the token pins no control-plane root (a Kubernetes service-account token): give --ca-cert-file or env BOWLINE_CA_ROOT_HASH (the injector sets it)');
  const root = o.caCertPem ?? (await fetchPinnedRoot(o.server.host, o.server.port, pin!));
  const live = new LiveCredentials(saved.credentials);
  const dir = o.identityDir;
  const identity = new WorkloadIdentity({
    spiffeId, token: o.token, request: o.request, live, log,
    ...(dir ? { onRotated: (c: WorkloadCredentials) => { try { persistIdentity(dir, c); } catch (err) { log(`cannot save the workload certificate in ${dir}: ${(err as Error).message}`); } } } : {}),
  });
  if (saved.credentials) log(`workload certificate for ${spiffeId} loaded from ${dir}, valid until ${new Date(saved.credentials.notAfter).toISOString()}`);
  return { identity, connect: tlsStreamConnector({ root, live: identity.live }), namespace: info.namespace, serviceAccount: info.serviceAccount };
}
