/**
 * `bowline up --api-tls`: the config API (the kubectl-compatible API) over HTTPS on its own
 * listener, with a serving certificate from Bowline's CA. The certificate names the listen address
 * (its IP, or its DNS name), 127.0.0.1, ::1, localhost and this host's name; it is renewed at
 * half-life and whenever the CA's roots change. The trust bundle is written to HOME/api-ca.pem, where
 * `bowline kubeconfig` and the CLI read it (certificate-authority-data / the client's CA).
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the API listener needs of the CA (CertificateAuthority satisfies it). */
export interface ApiTlsCa {
  issueServingCertificate(o: { dnsNames?: string[]; ips?: string[] }): { chainPem: string; keyPem: string; trustBundlePem: string; notAfter: number };
  onChange(listener: () => void): () => void;
}

/** The file the API's CA bundle is written to (read by `bowline kubeconfig` and the CLI). */
export function apiCaPath(home: string): string {
  return join(home, 'api-ca.pem');
}

/** An HTTPS server with no certificate yet (handshakes fail until `serveApiTls` gives it one, once the CA runs). */
export function createApiTlsServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  return createServer({ minVersion: 'TLSv1.2' }, handler);
}

/** The certificate's names for a listen host: DNS names and IP addresses. */
export function apiCertificateNames(listenHost: string, host = hostname()): { dnsNames: string[]; ips: string[] } {
  const dnsNames = new Set(['localhost', host]);
  const ips = new Set(['127.0.0.1', '::1']);
  const bare = listenHost.replace(/^\[|\]$/g, '');
  if (isIP(bare)) {
    if (bare !== '0.0.0.0' && bare !== '::') ips.add(bare);
  } else if (bare) dnsNames.add(bare);
  return { dnsNames: [...dnsNames].filter((n) => /^[a-zA-Z0-9.-]+$/.test(n)), ips: [...ips] };
}

/**
 * Gives the server its certificate (for `names`, plus `extraIps`: a wildcard listener's own
 * addresses are added by the caller), writes the CA bundle, and keeps both current; returns the stop function.
 */
export function serveApiTls(server: Server, ca: ApiTlsCa, o: { home: string; names: { dnsNames: string[]; ips: string[] }; log: (l: string) => void; now?: () => number }): () => void {
  let timer: NodeJS.Timeout | undefined;
  const now = o.now ?? Date.now;
  const renew = (): void => {
    const c = ca.issueServingCertificate(o.names);
    server.setSecureContext({ key: c.keyPem, cert: c.chainPem, minVersion: 'TLSv1.2' });
    writeFileSync(apiCaPath(o.home), c.trustBundlePem, { mode: 0o644 });
    if (timer) clearTimeout(timer);
    timer = setTimeout(renew, Math.min(2 ** 31 - 1, Math.max(1000, (c.notAfter - now()) / 2)));
    timer.unref();
  };
  renew();
  o.log(`control plane: config API serves HTTPS with a certificate from the CA for ${[...o.names.dnsNames, ...o.names.ips].join(', ')}; its CA bundle is ${apiCaPath(o.home)}`);
  const unsubscribe = ca.onChange(renew);
  return () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
  };
}
