import { connect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as tlsCreateServer, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { flushAtTurnEnd, HeldBatch, readEnd, readStart, writeBatch, writeOut } from './turn-writes.js';
import { selfSigned } from '../../../test/support/self-signed.js';

let server: Server | undefined;
afterEach(() => { server?.close(); server = undefined; });

/** A connected pair on loopback: `sock` is the accepted end, `client` the peer. */
async function pair(): Promise<{ sock: Socket; client: Socket }> {
  const srv = server = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => srv.once('connection', r));
  const client = connect((srv.address() as { port: number }).port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', () => r()));
  return { sock: await accepted, client };
}

function readAll(client: Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  client.on('data', (b: Buffer) => parts.push(b));
  return new Promise((r) => client.on('end', () => r(Buffer.concat(parts))));
}

describe('writing straight to the socket', () => {
  it('keeps the order of a write the kernel could not take at once, later writes and end()', async () => {
    const { sock, client } = await pair();
    client.pause(); // the peer does not read: the big write cannot complete at once
    const big = Buffer.alloc(32 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    writeOut(sock, big);
    expect((sock as unknown as { _handle: { writeQueueSize: number } })._handle.writeQueueSize).toBeGreaterThan(0);
    writeOut(sock, 'tail-1 ');
    // While those bytes wait, what follows goes through node's Writable, which counts it (backpressure as before).
    expect(sock.writableLength).toBe(7);
    sock.write(Buffer.from('tail-2'));
    sock.end();
    const all = readAll(client);
    client.resume();
    const got = await all;
    expect(got.length).toBe(big.length + 13);
    expect(got.subarray(0, big.length).equals(big)).toBe(true);
    expect(got.subarray(big.length).toString('latin1')).toBe('tail-1 tail-2');
    client.destroy();
  });

  it('keeps a queued write whole while other sockets go on writing (one WriteWrap serves only writes that completed at once)', async () => {
    const a = await pair();
    const serverA = server;
    const b = await pair();
    const gotA = readAll(a.client);
    for (let i = 0; i < 50; i++) writeOut(a.sock, `a${i};`);
    b.client.pause();
    const big = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i + 7, i);
    writeOut(b.sock, big);
    expect((b.sock as unknown as { _handle: { writeQueueSize: number } })._handle.writeQueueSize).toBeGreaterThan(0);
    for (let i = 50; i < 100; i++) writeOut(a.sock, Buffer.from(`a${i};`));
    a.sock.end();
    b.sock.end();
    const gotB = readAll(b.client);
    b.client.resume();
    expect((await gotA).toString('latin1')).toBe(Array.from({ length: 100 }, (_, i) => `a${i};`).join(''));
    const all = await gotB;
    expect(all.length).toBe(big.length);
    expect(all.equals(big)).toBe(true);
    a.client.destroy();
    b.client.destroy();
    serverA?.close();
  });

  it('keeps a joined batch the kernel could not take at once whole while other sockets\' batches are joined and written', async () => {
    const a = await pair();
    const serverA = server;
    const b = await pair();
    b.client.pause(); // b's peer does not read: one of b's batches ends up queued by libuv
    const batch = new HeldBatch();
    const body = (tag: number): Buffer => Buffer.alloc(8000, tag % 251);
    const expectB: Buffer[] = [];
    const queued = (): number => (b.sock as unknown as { _handle: { writeQueueSize: number } })._handle.writeQueueSize;
    for (let i = 0; i < 4000 && queued() === 0; i++) {
      const head = `HTTP/1.1 200 OK\r\nx-n: b${i}\r\n\r\n`;
      batch.hold(head);
      batch.hold(body(i));
      writeBatch(b.sock, batch);
      expectB.push(Buffer.from(head, 'latin1'), body(i));
    }
    expect(queued()).toBeGreaterThan(0);
    // Batches of other sockets are joined meanwhile (the same sizes: the same view, if it were shared).
    const expectA: Buffer[] = [];
    const gotA = readAll(a.client);
    for (let i = 0; i < 50; i++) {
      const head = `HTTP/1.1 200 OK\r\nx-n: a${i}\r\n\r\n`;
      batch.hold(head);
      batch.hold(Buffer.alloc(8000, 0xee));
      writeBatch(a.sock, batch);
      expectA.push(Buffer.from(head, 'latin1'), Buffer.alloc(8000, 0xee));
    }
    a.sock.end();
    b.sock.end();
    const gotB = readAll(b.client);
    b.client.resume();
    expect((await gotA).equals(Buffer.concat(expectA))).toBe(true);
    expect((await gotB).equals(Buffer.concat(expectB))).toBe(true);
    a.client.destroy();
    b.client.destroy();
    serverA?.close();
  });

  it('closes the socket when a write fails (peer gone)', async () => {
    const { sock, client } = await pair();
    sock.pause(); // nothing reads the reset: the write is what finds it
    client.resetAndDestroy();
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.on('error', () => {});
    for (let i = 0; i < 1000 && !sock.destroyed; i++) {
      writeOut(sock, 'x');
      await new Promise((r) => setImmediate(r));
    }
    await closed;
    expect(sock.destroyed).toBe(true);
  });
});

describe('batches written to a TLS socket', () => {
  /** A TLS connection on loopback: `sock` is the client end (as the upstream pool's), `peer` the server's. */
  async function tlsPair(): Promise<{ sock: TLSSocket; peer: TLSSocket; close(): void }> {
    const { cert, key } = await selfSigned();
    const srv = tlsCreateServer({ cert, key });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const accepted = new Promise<TLSSocket>((r) => srv.once('secureConnection', r));
    const sock = tlsConnect({ port: (srv.address() as { port: number }).port, host: '127.0.0.1', rejectUnauthorized: false });
    await new Promise<void>((r) => sock.once('secureConnect', () => r()));
    return { sock, peer: await accepted, close: () => srv.close() };
  }

  it('arrive whole and in order when the reused join buffer is overwritten by the next batches (same turn, other sockets, plain and TLS)', async () => {
    const t1 = await tlsPair();
    const t2 = await tlsPair();
    const plain = await pair();
    const got1 = readAll(t1.peer), got2 = readAll(t2.peer), gotPlain = readAll(plain.client);
    const batch = new HeldBatch();
    const want1: string[] = [], want2: string[] = [], wantPlain: string[] = [];
    const put = (s: Socket, want: string[], parts: string[]): void => {
      for (const p of parts) batch.hold(p.startsWith('body:') ? Buffer.from(p, 'latin1') : p);
      writeBatch(s, batch);
      want.push(parts.join(''));
    };
    for (let turn = 0; turn < 20; turn++) {
      // Several batches per socket in one turn (the second finds the first TLS write still completing), the same sizes across sockets.
      for (let i = 0; i < 3; i++) {
        put(t1.sock, want1, [`HTTP/1.1 200 OK\r\nx-n: ${turn}-${i}-a\r\n\r\n`, `body:${'a'.repeat(100 + i)}`]);
        put(t2.sock, want2, [`GET /${turn}/${i} HTTP/1.1\r\nhost: b\r\n\r\n`]);
        put(plain.sock, wantPlain, [`HTTP/1.1 200 OK\r\nx-n: ${turn}-${i}-c\r\n\r\n`, `body:${'c'.repeat(100 + i)}`]);
      }
      await new Promise((r) => setImmediate(r));
    }
    t1.sock.end();
    t2.sock.end();
    plain.sock.end();
    expect((await got1).toString('latin1')).toBe(want1.join(''));
    expect((await got2).toString('latin1')).toBe(want2.join(''));
    expect((await gotPlain).toString('latin1')).toBe(wantPlain.join(''));
    t1.close();
    t2.close();
  });

  it('keep their order behind bytes node\'s Writable still holds, and a batch larger than the join buffer goes through as it is', async () => {
    const t = await tlsPair();
    const got = readAll(t.peer);
    const big = Buffer.alloc(64 * 1024, 0x61);
    t.sock.write(big); // node's Writable holds this until TLSWrap completes it: the next batch must queue behind it
    const batch = new HeldBatch();
    batch.hold('one ');
    batch.hold(Buffer.from('two '));
    writeBatch(t.sock, batch);
    batch.hold(Buffer.alloc(20 * 1024, 0x62));
    writeBatch(t.sock, batch);
    await new Promise((r) => setImmediate(r));
    batch.hold('three');
    writeBatch(t.sock, batch);
    t.sock.end();
    const all = await got;
    expect(all.equals(Buffer.concat([big, Buffer.from('one two '), Buffer.alloc(20 * 1024, 0x62), Buffer.from('three')]))).toBe(true);
    t.close();
  });
});

describe('flushing held writes', () => {
  it('writes what a read callback held when the callback ends (no tick queued)', async () => {
    const { sock, client } = await pair();
    const order: string[] = [];
    const holder = { flushHeld: () => { order.push('flush'); writeOut(sock, 'held'); } };
    readStart();
    flushAtTurnEnd(holder);
    order.push('callback end');
    readEnd();
    order.push('after the callback');
    expect(order).toEqual(['callback end', 'flush', 'after the callback']);
    sock.end();
    expect((await readAll(client)).toString('latin1')).toBe('held');
  });

  it('writes what was held outside a read callback at the end of the tick', async () => {
    const { sock, client } = await pair();
    const order: string[] = [];
    flushAtTurnEnd({ flushHeld: () => { order.push('flush'); writeOut(sock, 'held'); } });
    order.push('caller end');
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['caller end', 'flush']);
    sock.end();
    expect((await readAll(client)).toString('latin1')).toBe('held');
  });
});

describe('the batch a connection holds during a turn', () => {
  it('joins what it holds in order, hands a single part back as it is, and is empty again after each turn', () => {
    const b = new HeldBatch();
    expect(b.take()).toBeNull();
    expect(b.hold('HTTP/1.1 200 OK\r\n\r\n')).toBe(true);
    expect(b.hold(Buffer.from('ab'))).toBe(false);
    expect(b.hold('\xff\r\n')).toBe(false);
    expect(b.bytes).toBe(24);
    expect((b.take() as Buffer).toString('latin1')).toBe('HTTP/1.1 200 OK\r\n\r\nab\xff\r\n');
    expect([b.count, b.bytes]).toEqual([0, 0]);
    // The next turn: fewer parts than the last one; nothing of the last turn comes back.
    expect(b.hold('x')).toBe(true);
    expect(b.take()).toBe('x');
    const one = Buffer.from('y');
    b.hold(one);
    expect(b.take()).toBe(one);
    // More parts than the first slots, then a dropped turn.
    for (let i = 0; i < 10; i++) b.hold(String(i));
    expect((b.take() as Buffer).toString('latin1')).toBe('0123456789');
    b.hold('dropped');
    b.drop();
    expect(b.take()).toBeNull();
    expect(b.hold('z')).toBe(true);
    expect(b.take()).toBe('z');
  });
});

describe('holders flushed at the end of a turn', () => {
  it('flushes each holder of a turn once, more holders than the first slots, then the fewer of the next turn, and a holder added during a flush', async () => {
    const counts = new Array<number>(40).fill(0);
    const late = { n: 0, flushHeld(): void { this.n++; } };
    const holders = counts.map((_, i) => ({ flushHeld(): void { counts[i]!++; if (i === 39 && late.n === 0) flushAtTurnEnd(late); } }));
    for (const h of holders) flushAtTurnEnd(h);
    await new Promise<void>((r) => setImmediate(r));
    expect(counts.every((c) => c === 1)).toBe(true);
    expect(late.n).toBe(1);
    for (const h of holders.slice(0, 3)) flushAtTurnEnd(h);
    await new Promise<void>((r) => setImmediate(r));
    expect(counts.slice(0, 3)).toEqual([2, 2, 2]);
    expect(counts.slice(3).every((c) => c === 1)).toBe(true);
    expect(late.n).toBe(1);
  });
});
