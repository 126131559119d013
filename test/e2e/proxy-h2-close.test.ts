// Closing HTTP/2 connections must not throw away the optimised code of the HTTP/2 request path. V8 tracks a field as
// a constant until it is first given another value, and the first store of another value deoptimises the code that
// relied on it: a field written only when a connection ends (a connection's `closed`, `goawaySent`, the server's
// `ended`, an upstream session's `closed`) threw away code at the first close, and the next requests ran in the
// interpreter until V8 optimised it again (the HTTP/1.1 path's case: proxy-quiet-gc.test.ts).
// A real `bowline proxy` with V8's --trace-opt/--trace-deopt: node:http2 clients over h2c that close their
// connections after each burst, an HTTP/2 upstream that closes its session (GOAWAY) after one stream in 500.
import { connect, createServer, type Http2Server } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROXY_NODE_FLAGS } from '../../src/proxy/node-flags.js';
import type { Child } from '../support/process.js';
import { tempDir } from '../support/temp.js';
import { cluster, config, listener, startProxyProcess } from './protocols-harness.js';

const home = tempDir('bowline-e2e-h2close-');
let upstream: Http2Server;
let proxy: Child;
let port = 0;

/** `n` GETs over `conns` h2c connections (each connection's requests one after another), closed at the end; the statuses. */
async function load(n: number, conns: number): Promise<number[]> {
  let next = 0;
  const statuses: number[] = [];
  const worker = async (): Promise<void> => {
    const session = connect(`http://127.0.0.1:${port}`);
    try {
      while (next++ < n) {
        statuses.push(await new Promise<number>((resolve, reject) => {
          const req = session.request({ ':path': '/p', ':authority': 'svc' });
          let status = 0;
          req.on('response', (h) => { status = Number(h[':status']); });
          req.on('error', reject);
          req.on('end', () => resolve(status));
          req.resume();
          req.end();
        }));
      }
    } finally {
      session.close(); // the downstream connection ends: its fields get their closing values
    }
  };
  await Promise.all(Array.from({ length: conns }, worker));
  return statuses;
}

/** Every function V8 marked for deoptimisation because a field its code took for a constant changed, in `text`. */
function codeDependencyDeopts(text: string): string[] {
  return [...text.matchAll(/marking dependent code .*?<SharedFunctionInfo ([^>]*)>.*reason: code dependencies/g)].map((m) => m[1]!);
}

beforeAll(async () => {
  let served = 0;
  upstream = createServer();
  upstream.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
    // One stream in 500 ends its session with a GOAWAY, as an upstream's max-requests or idle timeout does.
    if (++served % 500 === 0) stream.session?.close();
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const up = (upstream.address() as { port: number }).port;
  const cfg = config([listener('http', [{ name: 'http', http: { routeConfig: 'r' } }])], [cluster('up', [up], { protocol: 'http2' })], {
    routes: [{ name: 'r', virtualHosts: [{ name: 'v', domains: ['*'], routes: [{ route: { destinations: [{ cluster: 'up', weight: 100 }] } }] }] }],
  });
  ({ proxy, port } = await startProxyProcess(home, cfg, 'http', [...PROXY_NODE_FLAGS, '--trace-opt', '--trace-deopt']));
}, 30_000);

afterAll(async () => {
  await proxy?.stop();
  await new Promise<void>((r) => upstream?.close(() => r()));
});

describe('closing HTTP/2 connections', () => {
  it('deoptimises nothing: downstream clients closing, the upstream sending GOAWAY', async () => {
    const statuses: number[] = [];
    // Bursts until V8 has optimised the HTTP/2 request path (bounded); every burst closes its 4 client connections.
    for (let round = 0; round < 12 && (round < 3 || !/completed optimizing .*<JSFunction onHeaders /.test(proxy.output())); round++) {
      statuses.push(...await load(2000, 4));
    }
    expect(proxy.output()).toMatch(/completed optimizing .*<JSFunction onHeaders /);
    // A request sent on a session the upstream is closing is refused (REFUSED_STREAM, a 503 without a retry policy); the rest are served.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(statuses.length * 0.98);
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(proxy.output()).toMatch(/refused the stream|GOAWAY/); // the upstream's closes did reach the proxy
    expect(codeDependencyDeopts(proxy.output())).toEqual([]);
  }, 120_000);
});
