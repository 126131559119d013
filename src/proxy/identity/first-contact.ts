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
    return connect(o);
  };
}
