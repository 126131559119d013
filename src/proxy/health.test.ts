import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAppProbers, startHealthServer, type HealthServer } from './health.js';

const open: Array<{ close(): unknown }> = [];
afterEach(async () => { for (const s of open.splice(0)) await s.close(); });

async function app(status: number): Promise<number> {
  const s: Server = createServer((req, res) => res.writeHead(req.url === '/health' ? status : 404).end());
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  open.push({ close: () => new Promise((r) => { s.closeAllConnections(); s.close(r); }) });
  return (s.address() as AddressInfo).port;
}

async function health(probers: string, ready: () => string | undefined = () => undefined): Promise<HealthServer> {
  const h = await startHealthServer({ port: 0, address: '127.0.0.1', ready, probers: parseAppProbers(probers) });
  open.push(h);
  return h;
}

const get = async (h: HealthServer, path: string) => {
  const r = await fetch(`http://127.0.0.1:${h.port}${path}`);
  return { status: r.status, body: await r.text() };
};

describe('proxy health port', () => {
  it('runs the app\'s moved HTTP and TCP probes from inside the pod: 200 when they pass, 503 with the reason when not', async () => {
    const up = await app(200);
    const failing = await app(500);
    const closed = await app(200);
    await open.pop()!.close(); // nothing listens on `closed` any more
    const h = await health(JSON.stringify({
      '/app-health/a/readyz': { httpGet: { path: '/health', port: up } },
      '/app-health/b/readyz': { httpGet: { path: '/health', port: failing } },
      '/app-health/a/livez': { tcpSocket: { port: up } },
      '/app-health/c/livez': { tcpSocket: { port: closed } },
    }));
    expect(await get(h, '/app-health/a/readyz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await get(h, '/app-health/b/readyz')).toEqual({ status: 503, body: `GET /health on port ${failing} answered 500\n` });
    expect((await get(h, '/app-health/a/livez')).status).toBe(200);
    const c = await get(h, '/app-health/c/livez');
    expect(c.status).toBe(503);
    expect(c.body).toContain(`tcp 127.0.0.1:${closed}: connect ECONNREFUSED`);
    expect((await get(h, '/app-health/x/readyz')).status).toBe(404);
  });

  it('reports the proxy\'s own readiness', async () => {
    let why: string | undefined = 'no configuration from the control plane yet';
    const h = await health('{}', () => why);
    expect(await get(h, '/healthz/ready')).toEqual({ status: 503, body: 'no configuration from the control plane yet\n' });
    why = undefined;
    expect(await get(h, '/healthz/ready')).toEqual({ status: 200, body: 'ready\n' });
  });

  it('refuses probers that are not a map of /app-health paths with numeric ports', () => {
    expect(() => parseAppProbers('[')).toThrow('--app-probers is not JSON');
    expect(() => parseAppProbers('{"/x": {"httpGet": {"port": 80}}}')).toThrow('"/x" needs a path under /app-health/');
    expect(() => parseAppProbers('{"/app-health/a/readyz": {"httpGet": {"port": "http"}}}')).toThrow('numeric port');
  });
});
