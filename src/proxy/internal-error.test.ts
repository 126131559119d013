// A throw inside a socket callback of the data plane (injected here through a misbehaving hook or
// counter) costs one request or connection, is counted and logged with BOWLINE_E_PROXY_INTERNAL,
// and never reaches the event loop: the proxy keeps serving other requests.
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { connect as h2connect } from 'node:http2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyHooks } from './record.js';
import { oneRouteConfig } from './sample-config.js';
import { startProxy, type RunningProxy } from './proxy.js';

let upstream: Server;
let upPort = 0;
beforeAll(async () => {
  upstream = createServer((req, res) => { req.resume(); req.on('end', () => res.end('ok:' + req.url)); });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upPort = (upstream.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => { upstream.closeAllConnections(); upstream.close(() => r()); }));

const proxies: RunningProxy[] = [];
afterEach(async () => { for (const p of proxies.splice(0)) await p.close(); });

async function proxy(hooks: ProxyHooks = {}): Promise<{ p: RunningProxy; port: number; logs: string[] }> {
  const logs: string[] = [];
  const p = await startProxy({ config: oneRouteConfig(upPort), adminPort: 0, hooks, log: (l) => logs.push(l) });
  proxies.push(p);
  return { p, port: p.ports.listeners.outbound!, logs };
}

function get(port: number, path: string): Promise<{ status: number; body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends raw bytes; resolves with what came back once the proxy closed the connection. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => { out += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => resolve(out));
    s.write(bytes);
  });
}

describe('data-plane callbacks never throw into the event loop', () => {
  it('a throw while handling the upstream response becomes a 500 with connection: close; the next request is served', async () => {
    let armed = false;
    // A hook object whose accessor throws: the failure happens inside the upstream socket's data callback.
    const hooks = {
      get onResponseHeaders() {
        if (armed) { armed = false; throw new Error('injected response fault'); }
        return undefined;
      },
    } as ProxyHooks;
    const { p, port, logs } = await proxy(hooks);
    armed = true;
    const bad = await get(port, '/one');
    expect(bad.status).toBe(500);
    expect(bad.connection).toBe('close');
    const good = await get(port, '/two');
    expect(good).toMatchObject({ status: 200, body: 'ok:/two' });
    expect(p.stats.internalErrors).toBe(1);
    expect(logs.filter((l) => l.includes('BOWLINE_E_PROXY_INTERNAL'))).toHaveLength(1);
    expect(logs.join('\n')).toContain('injected response fault');
  });

  it('a throw while handling downstream bytes resets that connection only; the next request is served', async () => {
    const { p, port, logs } = await proxy();
    let armed = true;
    const complete = p.stats.complete.bind(p.stats);
    // Counting the refused head throws once: inside the downstream socket's data callback.
    p.stats.complete = (status, flags) => {
      if (armed) { armed = false; throw new Error('injected downstream fault'); }
      complete(status, flags);
    };
    const out = await raw(port, 'GET / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\ncontent-length: 1\r\n\r\n');
    expect(out).toBe('');
    const good = await get(port, '/after');
    expect(good).toMatchObject({ status: 200, body: 'ok:/after' });
    expect(p.stats.internalErrors).toBe(1);
    expect(logs.join('\n')).toMatch(/internal error in http1 downstream: Error: injected downstream fault.*BOWLINE_E_PROXY_INTERNAL/);
  });

  it('over HTTP/2, a throw while handling the upstream response resets that stream only', async () => {
    let armed = false;
    const hooks = {
      get onResponseHeaders() {
        if (armed) { armed = false; throw new Error('injected h2 response fault'); }
        return undefined;
      },
    } as ProxyHooks;
    const { p, port, logs } = await proxy(hooks);
    const session = h2connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const h2get = (path: string): Promise<{ status: number; body: string } | { error: string }> => new Promise((resolve) => {
      const st = session.request({ ':path': path, ':authority': 'a' });
      let status = 0;
      let body = '';
      st.on('response', (h) => { status = Number(h[':status']); });
      st.on('data', (d: Buffer) => { body += d; });
      st.on('end', () => resolve({ status, body }));
      st.on('error', (e: Error) => resolve({ error: e.message }));
      st.end();
    });
    try {
      armed = true;
      const bad = await h2get('/one');
      expect(bad).toHaveProperty('error');
      expect(await h2get('/two')).toEqual({ status: 200, body: 'ok:/two' });
      expect(p.stats.internalErrors).toBe(1);
      expect(logs.join('\n')).toMatch(/internal error in h1 upstream response: Error: injected h2 response fault.*BOWLINE_E_PROXY_INTERNAL/);
    } finally {
      session.close();
    }
  });
});
