import { X509Certificate } from 'node:crypto';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { LiveCredentials } from './credentials.js';
import { IDENTITY_ERRORS, IdentityError } from './errors.js';
import { certificateHash, verifyRootPin } from './verify.js';

/**
 * First contact with the control plane and the TLS seam of the push stream
 * (src/proxy/control-client `connect` option).
 */

function chainOf(socket: TLSSocket): string {
  let cert = socket.getPeerCertificate(true);
  const out: string[] = [];
  for (let i = 0; cert?.raw && i < 6; i++) {
    out.push(new X509Certificate(cert.raw).toString());
    if (cert.issuerCertificate === cert) break;
    cert = cert.issuerCertificate;
  }
  return out.join('');
}

/**
 * Connects once without trusting anything, takes the certificates the control plane sends (its
 * stream listener includes the root), and returns the root whose SHA-256 matches `pin` (from the
 * bootstrap token). Throws IdentityError ROOT_PIN_MISMATCH when none does. The proxy then
 * connects again, verifying the server against that root.
 */
export function fetchPinnedRoot(host: string, port: number, pin: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, rejectUnauthorized: false, ...(/^[\d.:]+$/.test(host) ? {} : { servername: host }) });
    const timer = setTimeout(() => { s.destroy(); reject(new IdentityError(IDENTITY_ERRORS.HANDSHAKE, `no TLS answer from ${host}:${port} within ${timeoutMs} ms`)); }, timeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      try {
        const want = pin.trim().toLowerCase();
        resolve(verifyRootPin(chainOf(s), pin).find((c) => certificateHash(c) === want)!);
      } catch (err) {
        reject(err);
      } finally {
        s.destroy();
      }
    });
    s.once('error', (err) => { clearTimeout(timer); reject(new IdentityError(IDENTITY_ERRORS.HANDSHAKE, `cannot reach the control plane at ${host}:${port}: ${err.message}`, { cause: err })); });
  });
}

/**
 * The push stream's `connect` for TLS: verifies the control plane's serving certificate (DNS/IP
 * name) against the pinned root or the current trust bundle, and presents the workload
 * certificate when there is one (renewal is authenticated by it).
 */
export function tlsStreamConnector(opts: { root?: string; live?: LiveCredentials; servername?: string }): (host: string, port: number) => TLSSocket {
  return (host, port) => {
    const creds = opts.live?.current();
    const o: ConnectionOptions = creds
      ? { host, port, secureContext: opts.live!.secureContext() }
      : { host, port, ...(opts.root ? { ca: opts.root } : {}), minVersion: 'TLSv1.2' };
    const name = opts.servername ?? host;
    if (!/^[\d.:]+$/.test(name)) o.servername = name;
    const socket = connect(o);
    // Attached first, so the stream's owner reads the message as said here.
    socket.on('error', (err: Error & { code?: string }) => { err.message = streamTlsMessage(err, Date.now()); });
    return socket;
  };
}

/**
 * The push stream's TLS failure, said for a person: OpenSSL's "certificate is not yet valid" / "certificate has
 * expired" about the control plane's certificate is judged by this host's clock, which is the usual culprit on a VM.
 */
export function streamTlsMessage(err: Error & { code?: string }, now: number): string {
  const at = new Date(now).toISOString();
  if (err.code === 'CERT_NOT_YET_VALID') {
    return `the control plane's certificate is not valid yet by this host's clock (${at}): the clock is probably behind the control plane's; synchronise it (NTP) (${IDENTITY_ERRORS.CLOCK_SKEW})`;
  }
  if (err.code === 'CERT_HAS_EXPIRED') {
    return `the control plane's certificate has expired by this host's clock (${at}): either the clock is ahead of the control plane's (synchronise it: NTP; ${IDENTITY_ERRORS.CLOCK_SKEW}) or the control plane's serving certificate ran out`;
  }
  return err.message;
}
