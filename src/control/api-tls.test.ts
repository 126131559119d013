import { readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../ca/authority.js';
import { parseKek } from '../ca/kek.js';
import { MemoryCaStorage } from '../ca/storage.js';
import { apiCaPath, apiCertificateNames, createApiTlsServer, serveApiTls } from './api-tls.js';
import { tempDir } from '../../test/support/temp.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

function get(port: number, ca?: string, servername?: string): Promise<{ status: number; san: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/version', ...(ca ? { ca } : {}), agent: false, ...(servername ? { servername } : {}) }, (res) => {
      const san = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().subjectaltname ?? '';
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, san }));
    });
    req.on('error', reject);
  });
}

describe('config API over HTTPS (bowline up --api-tls)', () => {
  it('names the listen address (IP or DNS name), loopback and localhost; a wildcard listener adds no 0.0.0.0', () => {
    expect(apiCertificateNames('10.79.1.1', 'vm1')).toEqual({ dnsNames: ['localhost', 'vm1'], ips: ['127.0.0.1', '::1', '10.79.1.1'] });
    expect(apiCertificateNames('0.0.0.0', 'vm1')).toEqual({ dnsNames: ['localhost', 'vm1'], ips: ['127.0.0.1', '::1'] });
    expect(apiCertificateNames('api.example.com', 'vm1').dnsNames).toEqual(['localhost', 'vm1', 'api.example.com']);
    expect(apiCertificateNames('[::1]', 'vm1').ips).toEqual(['127.0.0.1', '::1']);
  });

  it('serves with a certificate from the CA once it runs, and writes the CA bundle clients trust', async () => {
    const home = tempDir('bowline-api-tls-');
    cleanup.push(() => rmSync(home, { recursive: true, force: true }));
    const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek: parseKek(Buffer.alloc(32, 3), 'test') });
    const server = createApiTlsServer((_req, res) => res.end('{}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const port = (server.address() as AddressInfo).port;
    // No certificate yet: the handshake fails, nothing is served in the clear.
    await expect(get(port, ca.trustBundlePem())).rejects.toThrow();
    const lines: string[] = [];
    const stop = serveApiTls(server, ca, { home, names: apiCertificateNames('127.0.0.1', 'vm1'), log: (l) => lines.push(l) });
    cleanup.push(stop);
    expect(readFileSync(apiCaPath(home), 'utf8')).toBe(ca.trustBundlePem());
    const first = await get(port, readFileSync(apiCaPath(home), 'utf8'));
    expect(first.status).toBe(200);
    expect(first.san).toContain('IP Address:127.0.0.1');
    expect(first.san).toContain('DNS:localhost');
    expect(lines[0]).toContain(apiCaPath(home));
    // A client that does not trust Bowline's CA is refused by its own verification.
    await expect(get(port)).rejects.toThrow(/self.signed|unable to verify|certificate/i);
  });
});
