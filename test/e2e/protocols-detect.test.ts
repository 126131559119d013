// Protocol detection on a port nobody named: one listener whose chains match the detected
// protocol (HTTP/1.1 request line, HTTP/2 preface, TLS ClientHello) and fall back to TCP
// after the detection timeout; a server-first protocol declared as TCP never waits.
import { connect as h2connect } from 'node:http2';
import { request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, createServer as tlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProxy } from '../../src/proxy/proxy.js';
import { cluster, config, listener, makePki, onStop, proxy, stopAll, tcpServer } from './protocols-harness.js';

let p: RunningProxy;
let port = 0;
let tcpOnly = 0;
let proxyPort = 0;
let webPort = 0;
let caPem = '';

beforeAll(async () => {
  const pki = makePki({ 'db.test': 'DNS:db.test' });
  caPem = pki.caPem;
  const leaf = pki.leaf('db.test');
  const tlsBackend = tlsServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => { s.on('error', () => {}); s.end('tls-backend'); });
  await new Promise<void>((r) => tlsBackend.listen(0, '127.0.0.1', r));
  onStop({ close: () => new Promise<void>((r) => tlsBackend.close(() => r())) });
  // A server-first protocol (like MySQL): it greets before the client says anything.
  const banner = await tcpServer((s) => { s.on('error', () => {}); s.write('220 banner\r\n'); s.on('data', (d: Buffer) => s.write(d)); });
  const web = (await import('node:http')).createServer((req, res) => res.end(`http ${req.httpVersion} ${req.url}`));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  onStop({ close: () => new Promise<void>((r) => { web.closeAllConnections(); web.close(() => r()); }) });
  webPort = (web.address() as { port: number }).port;
  p = await proxy(config([
    listener('auto', [
      { name: 'tls', match: { transportProtocol: 'tls' }, tcp: { routes: [{ destinations: [{ cluster: 'tls', weight: 1 }] }] } },
      { name: 'h1', match: { protocol: 'http1' }, http: { routeConfig: 'rt' } },
      { name: 'h2', match: { protocol: 'http2' }, http: { routeConfig: 'rt', codec: 'http2' } },
      { name: 'tcp', tcp: { routes: [{ destinations: [{ cluster: 'banner', weight: 1 }] }] } },
    ], { detectTimeoutMs: 100 }),
    listener('mysql', [{ name: 'tcp', tcp: { routes: [{ destinations: [{ cluster: 'banner', weight: 1 }] }] } }]),
    // A sidecar's outbound listener (push/generators/listeners.ts): HTTP_PROXY clients' absolute-form requests, and the
    // passthrough chain for captured connections to unknown TCP destinations.
    listener('outbound', [
      { name: 'http', match: { protocol: 'http1' }, http: { routeConfig: 'rt', acceptAbsoluteForm: true } },
      { name: 'PassthroughFilterChain', tcp: { routes: [{ destinations: [{ cluster: 'PassthroughCluster', weight: 100 }] }] } },
    ], { detectTimeoutMs: 100 }),
  ], [
    { name: 'PassthroughCluster', discovery: 'original_dst', protocol: 'auto', loadBalancer: { policy: 'PASSTHROUGH' } },
    cluster('tls', [(tlsBackend.address() as { port: number }).port]),
    cluster('banner', [banner.port]),
    cluster('web', [webPort], { protocol: 'http1' }),
  ], { routes: [{ name: 'rt', virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ route: { destinations: [{ cluster: 'web', weight: 1 }] } }] }] }] }));
  port = p.ports.listeners.auto!;
  tcpOnly = p.ports.listeners.mysql!;
  proxyPort = p.ports.listeners.outbound!;
}, 30_000);
afterAll(stopAll);

const st = (): Record<string, number> => p.stats as unknown as Record<string, number>;

function firstBytes(portNo: number): Promise<{ text: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = netConnect({ host: '127.0.0.1', port: portNo });
    s.once('data', (d: Buffer) => { resolve({ text: d.toString(), ms: Date.now() - t0 }); s.destroy(); });
  });
}

describe('protocol detection on an unnamed port', () => {
  it('detects HTTP/1.1', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/h1' }, (res) => { let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve(b)); }).on('error', reject).end();
    });
    expect(text).toBe('http 1.1 /h1');
  });

  it('detects the HTTP/2 preface', async () => {
    const s = h2connect(`http://127.0.0.1:${port}`);
    onStop({ close: () => s.close() });
    const text = await new Promise<string>((resolve, reject) => {
      const r = s.request({ ':path': '/h2' });
      let b = '';
      r.on('data', (d) => { b += d; });
      r.on('end', () => resolve(b));
      r.on('error', reject);
    });
    expect(text).toBe('http 1.1 /h2'); // HTTP/2 client, HTTP/1.1 upstream
  });

  it('detects a TLS ClientHello and passes it through', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, servername: 'db.test', ca: caPem });
      let b = '';
      s.on('data', (d: Buffer) => { b += d.toString(); });
      s.on('end', () => resolve(b));
      s.on('error', reject);
    });
    expect(text).toBe('tls-backend');
  });

  it('falls back to TCP after the detection timeout for a client that waits (server-first)', async () => {
    const before = st().detectTimeouts!;
    const r = await firstBytes(port);
    expect(r.text).toBe('220 banner\r\n');
    expect(r.ms).toBeGreaterThanOrEqual(90);
    expect(st().detectTimeouts).toBe(before + 1);
  });

  it('takes a request for HTTP when it arrived in time but the event loop was busy past the detection timeout', async () => {
    // The proxy runs in this process: block its event loop for 3x the timeout right after the client wrote a request.
    // The timer is due before the bytes are read (timers run before I/O); they decide, not the timeout. Before the fix
    // this connection went to the TCP chain (the banner server): on a loaded machine 1 in ~500 requests reset.
    const before = st().detectTimeouts!;
    const s = netConnect({ host: '127.0.0.1', port });
    await new Promise((r) => s.once('connect', r));
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r)); // the proxy accepted: its detection timer runs
    let text = '';
    const done = new Promise<void>((r) => { s.on('data', (d: Buffer) => { text += d.toString(); if (/\r\n\r\n[\s\S]*lag/.test(text) || text.includes('220')) r(); }); s.on('close', () => r()); });
    s.write('GET /lag HTTP/1.1\r\nhost: x\r\n\r\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
    await done;
    s.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 200[\s\S]*http 1\.1 \/lag$/);
    expect(st().detectTimeouts).toBe(before);
  });

  it('an HTTP_PROXY client whose request comes after the detection timeout still gets its response, not a reset', async () => {
    // A client that connected to the outbound listener itself (explicit proxy use, not captured) but was slow to write
    // (a freshly started process on a loaded machine: bookinfo-scenarios (g), `sleep fetch`, read ECONNRESET in CI).
    // Before the fix the timeout sent it to the passthrough chain, which has no original destination for it: the proxy
    // destroyed the socket with the request unread and the client read a reset.
    const s = netConnect({ host: '127.0.0.1', port: proxyPort });
    let text = '';
    let error = '';
    let closed = false;
    const done = new Promise<void>((r) => {
      s.on('data', (d: Buffer) => { text += d.toString(); if (text.includes('/late')) r(); });
      s.on('error', (e: Error) => { error = e.message; r(); });
      s.on('close', () => { closed = true; r(); });
    });
    await new Promise((r) => s.once('connect', r));
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r)); // the proxy accepted: its detection timer runs
    // The proxy runs in this process: its 100 ms timer, and the immediate it schedules, run before this one's.
    await new Promise((r) => setTimeout(r, 300));
    await new Promise((r) => setImmediate(r));
    expect(closed, 'the proxy closed the connection before the request came').toBe(false);
    s.write(`GET http://127.0.0.1:${webPort}/late HTTP/1.1\r\nhost: 127.0.0.1:${webPort}\r\n\r\n`);
    await done;
    s.destroy();
    expect(error).toBe('');
    expect(text).toMatch(/^HTTP\/1\.1 200[\s\S]*http 1\.1 \/late$/);
  }, 10_000);

  it('never waits on a port declared TCP', async () => {
    const before = st().detectTimeouts!;
    const r = await firstBytes(tcpOnly);
    expect(r.text).toBe('220 banner\r\n');
    expect(st().detectTimeouts).toBe(before);
  });

  it('sends unknown client-first bytes to the TCP chain at once', async () => {
    const text = await new Promise<string>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port });
      let b = '';
      s.on('data', (d: Buffer) => { b += d.toString(); if (b.includes('ping')) { resolve(b); s.destroy(); } });
      s.write('\x00\x01ping');
    });
    expect(text).toBe('220 banner\r\n\x00\x01ping');
  });
});
