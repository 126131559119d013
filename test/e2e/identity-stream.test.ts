import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { CertificateAuthority, MemoryCaStorage, parseKek } from '../../src/ca/index.js';
import { answerCsr, createTlsStreamServer } from '../../src/ca/stream.js';
import { certificateValidity, LiveCredentials } from '../../src/proxy/identity/credentials.js';
import { createKeyAndCsr } from '../../src/proxy/identity/csr.js';
import { IDENTITY_ERRORS } from '../../src/proxy/identity/errors.js';
import { fetchPinnedRoot, tlsStreamConnector } from '../../src/proxy/identity/first-contact.js';
import { readBootstrapToken } from '../../src/proxy/identity/token.js';

// The identity flow over a TLS stream like 15012: pin the root from the token, get the first
// certificate with the token, renew with the certificate. Messages are NDJSON as on the push stream.
const kek = parseKek(Buffer.alloc(32, 5), 'test');
const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

async function streamServer(ca: CertificateAuthority) {
  const server = createTlsStreamServer(ca, (socket: TLSSocket) => {
    let buf = '';
    socket.on('data', (d) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, nl)) as { type: string; requestId?: string; csr?: string; token?: string };
        buf = buf.slice(nl + 1);
        if (msg.type === 'csr') void answerCsr(ca, msg, socket).then((r) => socket.write(JSON.stringify(r) + '\n'));
      }
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return (server.address() as AddressInfo).port;
}

function exchange(socket: TLSSocket, msg: unknown): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    let buf = '';
    socket.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) { resolve(JSON.parse(buf.slice(0, buf.indexOf('\n')))); socket.end(); }
    });
    socket.on('error', reject);
    socket.write(JSON.stringify(msg) + '\n');
  });
}

describe('identity over the TLS stream', () => {
  it('pins the root from the token, gets a first certificate with the token, then renews with the certificate', async () => {
    const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek });
    const port = await streamServer(ca);
    const token = ca.createToken({ ns: 'shop', sa: 'cart', ttlMs: 600_000 }).token;
    const info = readBootstrapToken(token);

    const root = await fetchPinnedRoot('127.0.0.1', port, info.rootHash!);
    expect(root).toBe(ca.signingRootPem());

    const id = `spiffe://cluster.local/ns/${info.namespace}/sa/${info.serviceAccount}`;
    const first = await createKeyAndCsr(id);
    const connectFirst = tlsStreamConnector({ root });
    const r1 = await exchange(connectFirst('127.0.0.1', port), { type: 'csr', requestId: '1', csr: first.csrPem, token });
    expect(r1.error).toBeUndefined();
    const live = new LiveCredentials({ keyPem: first.keyPem, chainPem: r1.certificateChain!, trustBundlePem: r1.rootCerts!, spiffeId: id, ...certificateValidity(r1.certificateChain!) });

    const replay = await exchange(connectFirst('127.0.0.1', port), { type: 'csr', requestId: '2', csr: first.csrPem, token });
    expect(replay.code).toBe('BOWLINE_E_TOKEN_REPLAYED');

    const next = await createKeyAndCsr(id);
    const r3 = await exchange(tlsStreamConnector({ live })('127.0.0.1', port), { type: 'csr', requestId: '3', csr: next.csrPem });
    expect(r3.error).toBeUndefined();
    expect(r3.certificateChain).not.toBe(r1.certificateChain);
  });

  it('refuses a control plane whose root does not match the token', async () => {
    const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek });
    const impostor = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek });
    const port = await streamServer(impostor);
    const token = ca.createToken({ ns: 'shop', sa: 'cart', ttlMs: 600_000 }).token;
    await expect(fetchPinnedRoot('127.0.0.1', port, readBootstrapToken(token).rootHash!)).rejects.toMatchObject({ code: IDENTITY_ERRORS.ROOT_PIN_MISMATCH });
  });
});
