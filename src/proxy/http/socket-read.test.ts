import { connect, createServer, Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { isShared, own, readIntoShared, sharedReadBuffer } from './socket-read.js';
import { selfSigned } from '../../../test/support/self-signed.js';

describe('reading into a shared buffer', () => {
  it('switches an accepted plain TCP socket: its reads arrive in the shared buffer, in order', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<Socket>((r) => server.once('connection', r));
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    const sock = await accepted;
    const buf = sharedReadBuffer();
    let got = '';
    expect(readIntoShared(sock, buf, (n, b) => { expect(b).toBe(buf); got += b.toString('latin1', 0, n); })).toBe(true);
    client.write('hello ');
    client.end('world');
    await new Promise<void>((r) => sock.on('end', () => r()));
    expect(got).toBe('hello world');
    sock.destroy();
    server.close();
  });

  it('switches a terminated TLS socket after its handshake: decrypted bytes arrive in the shared buffer, in order', async () => {
    const { cert, key } = await selfSigned();
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const buf = sharedReadBuffer();
    let got = '';
    let reads = 0;
    let switched: boolean | undefined;
    const ended = new Promise<void>((resolve) => server.once('connection', (raw: Socket) => {
      // As tls/downstream.ts terminates: a TLSSocket made on the accepted socket, switched when 'secure' fires
      // (synchronously inside the SSL_read that finished the handshake, so bytes sent with the client's Finished follow).
      const s = new TLSSocket(raw, { isServer: true, secureContext: createSecureContext({ cert, key }) } as ConstructorParameters<typeof TLSSocket>[1]);
      s.once('secure', () => {
        switched = readIntoShared(s, buf, (n, b) => { expect(b).toBe(buf); reads++; got += b.toString('latin1', 0, n); });
        s.resume();
      });
      s.on('end', () => { s.destroy(); resolve(); });
    }));
    const big = 'x'.repeat(40_000); // three TLS records
    const client = tlsConnect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
      client.write('hello ');
      client.write(big);
      client.end('world');
    });
    await ended;
    expect(switched).toBe(true);
    expect(got).toBe('hello ' + big + 'world');
    expect(reads).toBeGreaterThanOrEqual(3);
    client.destroy();
    server.close();
  });

  it('copies only views of the shared buffer', () => {
    const buf = sharedReadBuffer();
    const view = buf.subarray(0, 4);
    expect(isShared(view, buf)).toBe(true);
    const copy = own(view, buf);
    expect(isShared(copy, buf)).toBe(false);
    const other = Buffer.from('abc');
    expect(own(other, buf)).toBe(other);
  });
});
