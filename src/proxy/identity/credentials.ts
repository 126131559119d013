import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions, type Server } from 'node:tls';

/** TLS 1.3 suites plus TLS 1.2 ECDHE with AEAD only: the modern set every mesh listener uses. */
export const MODERN_CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** A proxy's workload identity material: its key, its chain, the roots it trusts. */
export interface WorkloadCredentials {
  /** PKCS#8 PEM, generated in this process. */
  keyPem: string;
  /** Leaf plus intermediates, PEM. */
  chainPem: string;
  /** Trusted roots, PEM (during a root rotation: old and new). */
  trustBundlePem: string;
  spiffeId: string;
  /** Validity of the leaf, ms since the epoch. */
  notBefore: number;
  notAfter: number;
}

/** Reads notBefore/notAfter of the first certificate in `chainPem`. */
export function certificateValidity(chainPem: string): { notBefore: number; notAfter: number } {
  const x = new X509Certificate(chainPem);
  return { notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo) };
}

/** The secure-context options (TLS >= 1.2, modern ciphers) for a set of credentials. */
export function tlsOptionsFor(c: WorkloadCredentials): SecureContextOptions {
  return { key: c.keyPem, cert: c.chainPem, ca: c.trustBundlePem, minVersion: 'TLSv1.2', ciphers: MODERN_CIPHERS };
}

/**
 * The proxy's current credentials as live TLS contexts. `update()` swaps them everywhere at once:
 * attached servers get `setSecureContext` (new handshakes use the new certificate, established
 * connections keep theirs), and clients take `secureContext()` at each connect.
 */
export class LiveCredentials {
  private creds: WorkloadCredentials | undefined;
  private context: SecureContext | undefined;
  private readonly servers = new Set<Server>();
  private readonly listeners = new Set<(c: WorkloadCredentials) => void>();

  constructor(initial?: WorkloadCredentials) {
    if (initial) this.update(initial);
  }

  /** The credentials in use, if any yet. */
  current(): WorkloadCredentials | undefined {
    return this.creds;
  }

  /** The SecureContext for outbound connections (`tls.connect({ secureContext })`); throws before the first certificate. */
  secureContext(): SecureContext {
    if (!this.context) throw new Error('no workload certificate yet');
    return this.context;
  }

  /** Options for creating a server (`tls.createServer`) with the current credentials and client certificates requested. */
  serverOptions(): SecureContextOptions & { requestCert: true; rejectUnauthorized: boolean } {
    if (!this.creds) throw new Error('no workload certificate yet');
    return { ...tlsOptionsFor(this.creds), requestCert: true, rejectUnauthorized: false };
  }

  /** Installs new credentials: builds the context first (a bad key or chain throws and changes nothing), then swaps. */
  update(c: WorkloadCredentials): void {
    const opts = tlsOptionsFor(c);
    const context = createSecureContext(opts);
    for (const s of this.servers) s.setSecureContext(opts);
    this.creds = c;
    this.context = context;
    for (const l of this.listeners) l(c);
  }

  /** Keeps `server`'s certificate in step with updates; returns a function that stops doing so. */
  attach(server: Server): () => void {
    this.servers.add(server);
    if (this.creds) server.setSecureContext(tlsOptionsFor(this.creds));
    return () => this.servers.delete(server);
  }

  /** Calls `listener` after each update (e.g. to refresh /config_dump); returns an unsubscribe function. */
  onUpdate(listener: (c: WorkloadCredentials) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
