import { connect, createServer, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { isShared, own, readIntoShared, sharedReadBuffer } from './socket-read.js';

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

  it('leaves TLS sockets on data events (their handle is not plain TCP)', () => {
    const tls = new TLSSocket(new Socket(), { isServer: true } as ConstructorParameters<typeof TLSSocket>[1]);
    expect(readIntoShared(tls, sharedReadBuffer(), () => {})).toBe(false);
    tls.destroy();
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
