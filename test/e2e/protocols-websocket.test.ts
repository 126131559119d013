// WebSocket through two proxies with the `ws` package: the Upgrade is forwarded when the route
// allows it (Istio's default), routed by the same rules as any request, then bytes flow both
// ways; idle tunnels are closed; a never-ending frame stream is cut when the upstream gives up,
// and a client that never reads holds the upstream back.
import { connect as netConnect } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '../../src/proxy-config/types.js';
import { cluster, config, listener, onStop, proxy, stopAll } from './protocols-harness.js';

let wsPort = 0;
let flooded = 0;

beforeAll(async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1024 * 1024 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wsPort = (wss.address() as { port: number }).port;
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {});
    ws.send(`hello ${req.url}`);
    ws.on('message', (m, binary) => {
      if (m.toString() === 'flood') {
        // Send until the socket pushes back; remember how much left this process.
        const chunk = Buffer.alloc(64 * 1024, 0x63);
        const pump = (): void => {
          while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 4 * 1024 * 1024 && flooded < 256 * 1024 * 1024) { ws.send(chunk); flooded += chunk.length; }
          if (ws.readyState === WebSocket.OPEN && flooded < 256 * 1024 * 1024) setTimeout(pump, 20);
        };
        pump();
        return;
      }
      ws.send(m, { binary });
    });
  });
  onStop({ close: () => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }) });
});
afterAll(stopAll);

async function twoProxies(routes: Route[], idleTimeoutMs?: number): Promise<string> {
  const rt = (r: Route[]) => [{ name: 'rt', virtualHosts: [{ name: 'all', domains: ['*'], routes: r }] }];
  const b = await proxy(config([listener('in', [{ name: 'h', http: { routeConfig: 'rt' } }], { direction: 'inbound' })],
    [cluster('ws', [wsPort], { protocol: 'http1' })], { routes: rt([{ route: { destinations: [{ cluster: 'ws', weight: 1 }] } }]) }));
  const a = await proxy(config([listener('out', [{ name: 'h', http: { routeConfig: 'rt', ...(idleTimeoutMs ? { idleTimeoutMs } : {}) } }])],
    [cluster('b', [b.ports.listeners.in!], { protocol: 'http1' })], { routes: rt(routes) }));
  return `ws://127.0.0.1:${a.ports.listeners.out!}`;
}

function open(url: string): Promise<{ ws: WebSocket; first: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('message', (m) => resolve({ ws, first: m.toString() }));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}

describe('WebSocket through two proxies', () => {
  it('echoes text and binary messages, routed by path', async () => {
    const url = await twoProxies([{ match: [{ uri: { prefix: '/chat' } }], route: { destinations: [{ cluster: 'b', weight: 1 }] } }]);
    const { ws, first } = await open(url + '/chat/room1');
    onStop({ close: () => ws.terminate() });
    expect(first).toBe('hello /chat/room1');
    const got: string[] = [];
    const done = new Promise<void>((r) => ws.on('message', (m) => { got.push(m.toString()); if (got.length === 3) r(); }));
    ws.send('one');
    ws.send(Buffer.alloc(200_000, 0x61));
    ws.send('three');
    await done;
    expect(got[0]).toBe('one');
    expect(got[1]!.length).toBe(200_000);
    expect(got[2]).toBe('three');
    await expect(open(url + '/other')).rejects.toThrow(/404/);
  });

  it('does not forward the Upgrade when the route forbids it', async () => {
    const url = await twoProxies([{ route: { destinations: [{ cluster: 'b', weight: 1 }], allowUpgrade: false } }]);
    await expect(open(url + '/x')).rejects.toThrow();
  });

  it('cuts a never-ending frame once the upstream refuses it, without buffering it', async () => {
    const url = await twoProxies([{ route: { destinations: [{ cluster: 'b', weight: 1 }] } }]);
    const port = Number(new URL(url).port);
    const s = netConnect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    s.write('GET /flood HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n');
    await new Promise<void>((r) => s.once('data', () => r()));
    // A masked binary frame announcing 2^40 bytes, then data forever.
    s.write(Buffer.from([0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4]));
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    let sent = 0;
    let closed = false;
    s.on('close', () => { closed = true; });
    while (!closed && sent < 64 * 1024 * 1024) {
      if (!s.write(chunk)) await new Promise<void>((r) => { s.once('drain', () => r()); s.once('close', () => r()); });
      sent += chunk.length;
    }
    expect(closed).toBe(true);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  }, 30_000);

  it('closes a tunnel idle for the idle timeout', async () => {
    const url = await twoProxies([{ route: { destinations: [{ cluster: 'b', weight: 1 }] } }], 300);
    const { ws } = await open(url + '/idle');
    const t0 = Date.now();
    await new Promise((r) => ws.once('close', r));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('holds the upstream back when the client never reads', async () => {
    const url = await twoProxies([{ route: { destinations: [{ cluster: 'b', weight: 1 }] } }]);
    const { ws } = await open(url + '/slow-reader');
    onStop({ close: () => ws.terminate() });
    flooded = 0;
    ws.send('flood');
    // Stop reading: the client socket's buffers fill, then each proxy's, then the upstream's.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    let last = -1;
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 150));
      if (flooded === last && flooded > 0) break;
      last = flooded;
    }
    expect(flooded).toBe(last);
    expect(flooded).toBeLessThan(64 * 1024 * 1024);
  }, 20_000);
});
