import type { Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { CertificateMessage } from '../proxy-config/wire.js';
import type { CertificateAuthority } from './authority.js';
import { derToPem } from './der.js';
import { CaError } from './errors.js';

/**
 * The CA on the push stream (integration seams for src/push): answering a `csr` message, and
 * the TLS listener on 15012 whose sockets the push server adopts (`PushServer.attach`).
 */

/** The `certificate` reply to a `csr` message: the stream's CertificateMessage (src/proxy-config/wire.ts). */
export type CertificateReply = CertificateMessage;

/** The PEM chain a TLS peer presented (leaf first), or undefined for plaintext / no certificate. */
export function peerChainPem(socket: Socket | undefined): string | undefined {
  const s = socket as Partial<TLSSocket> | undefined;
  if (!s || typeof s.getPeerCertificate !== 'function') return undefined;
  let cert = s.getPeerCertificate(true);
  if (!cert?.raw) return undefined;
  const out: string[] = [];
  for (let i = 0; cert?.raw && i < 5; i++) {
    out.push(derToPem(cert.raw, 'CERTIFICATE'));
    if (cert.issuerCertificate === cert) break;
    cert = cert.issuerCertificate;
  }
  return out.join('');
}

/**
 * Answers one `csr` message. The identity comes from the stream's client certificate (renewal),
 * the identity a token already proved on this connection, or, on first contact, from `msg.token`
 * (a bootstrap token, redeemed once). Never throws:
 * refusals become `{error, code}`.
 */
export async function answerCsr(ca: CertificateAuthority, msg: { requestId?: unknown; csr?: unknown; token?: unknown }, socket?: Socket, sessionIdentity?: string, opts: { expect?: string } = {}): Promise<CertificateReply> {
  const requestId = String(msg.requestId ?? '');
  try {
    if (typeof msg.csr !== 'string') throw new Error('csr message has no "csr" string');
    const chain = peerChainPem(socket);
    const fromCert = chain ? ca.identityFromCertificate(chain) : undefined;
    // `sessionIdentity`: what an earlier token CSR on this same TLS connection proved (renewal before a reconnect).
    const allowed = fromCert ?? sessionIdentity;
    let out;
    if (allowed) out = ca.signCsr(msg.csr, allowed);
    // First contact: the token is spent only once the CSR is signed (and only for the identity the stream's hello named).
    else if (typeof msg.token === 'string') out = await ca.signWithToken(msg.csr, msg.token, opts.expect !== undefined ? { expect: opts.expect } : {});
    else return { type: 'certificate', requestId, code: 'BOWLINE_E_CA_UNAUTHENTICATED', error: 'a CSR needs a bootstrap token (first contact) or the current workload certificate on the TLS stream' };
    return { type: 'certificate', requestId, certificateChain: out.chainPem, rootCerts: out.trustBundlePem };
  } catch (err) {
    if (err instanceof CaError) return { type: 'certificate', requestId, code: err.code, error: err.message };
    return { type: 'certificate', requestId, code: 'BOWLINE_E_CA_BAD_REQUEST', error: (err as Error).message };
  }
}

/**
 * A TLS listener for the push stream (15012) with a serving certificate from the CA. It sends the
 * root with its chain (so a proxy can match its pinned hash on first contact), asks for but does
 * not require a client certificate (first contact has none), renews its own certificate at
 * half-life, and hands each secured socket to `onSocket` (e.g. `pushServer.attach`).
 */
export function createTlsStreamServer(ca: CertificateAuthority, onSocket: (s: TLSSocket) => void, opts: { dnsNames?: string[]; ips?: string[]; lifetimeMs?: number } = {}): Server & { stopRenewal(): void } {
  const names = { dnsNames: opts.dnsNames ?? ['localhost'], ips: opts.ips ?? ['127.0.0.1', '::1'], ...(opts.lifetimeMs ? { lifetimeMs: opts.lifetimeMs } : {}) };
  const material = () => {
    const c = ca.issueServingCertificate(names);
    return { c, tls: { key: c.keyPem, cert: c.chainPem + ca.signingRootPem(), ca: ca.trustBundlePem(), minVersion: 'TLSv1.2' as const } };
  };
  let cur = material();
  const server = createServer({ ...cur.tls, requestCert: true, rejectUnauthorized: false }, onSocket) as Server & { stopRenewal(): void };
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    timer = setTimeout(() => {
      cur = material();
      server.setSecureContext(cur.tls);
      schedule();
    }, Math.min(2 ** 31 - 1, Math.max(1000, (cur.c.notAfter - Date.now()) / 2))).unref();
  };
  schedule();
  const unsub = ca.onChange(() => {
    cur = material();
    server.setSecureContext(cur.tls);
  });
  server.stopRenewal = () => {
    if (timer) clearTimeout(timer);
    unsub();
  };
  server.on('close', () => server.stopRenewal());
  return server;
}
