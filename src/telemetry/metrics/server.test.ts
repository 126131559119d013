import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from './registry.js';
import { startMetricsServer, type MetricsServer } from './server.js';

const open: Array<{ close(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function app(handler: http.RequestListener): Promise<number> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  open.push({ close: () => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); }) });
  return (s.address() as AddressInfo).port;
}

async function serve(o: Omit<Parameters<typeof startMetricsServer>[0], 'port'>): Promise<MetricsServer> {
  const m = await startMetricsServer({ ...o, port: 0 });
  open.push(m);
  return m;
}

describe('metrics server', () => {
  it('serves the registry at /stats/prometheus with the exposition content type, 404 elsewhere', async () => {
    const r = new Registry();
    r.counter({ name: 'x_total', help: 'x' }).labels().inc(2);
    const m = await serve({ registry: r });
    const res = await fetch(`http://127.0.0.1:${m.port}/stats/prometheus`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toContain('x_total 2\n');
    expect((await fetch(`http://127.0.0.1:${m.port}/other`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${m.port}/stats/prometheus`, { method: 'POST' })).status).toBe(405);
  });

  it('merges the application metrics after its own (Istio 15020)', async () => {
    const r = new Registry();
    r.gauge({ name: 'proxy_g', help: 'g' }).labels().set(1);
    const appPort = await app((_q, res) => res.end('# TYPE app_requests_total counter\napp_requests_total 7'));
    const m = await serve({ registry: r, appMetricsUrl: `http://127.0.0.1:${appPort}/metrics` });
    const text = await (await fetch(`http://127.0.0.1:${m.port}/stats/prometheus`)).text();
    expect(text).toMatch(/proxy_g 1\n[\s\S]*app_requests_total 7\n$/);
  });

  it('serves its own metrics when the application is down, slow or failing', async () => {
    const r = new Registry();
    r.gauge({ name: 'proxy_g', help: 'g' }).labels().set(1);
    const failing = await app((_q, res) => res.writeHead(500).end('app_x 1'));
    const slow = await app(() => {});
    for (const url of ['http://127.0.0.1:9/metrics', `http://127.0.0.1:${failing}/metrics`, `http://127.0.0.1:${slow}/metrics`]) {
      const m = await serve({ registry: r, appMetricsUrl: url, appTimeoutMs: 200 });
      const text = await (await fetch(`http://127.0.0.1:${m.port}/stats/prometheus`)).text();
      expect(text).toBe('# HELP proxy_g g\n# TYPE proxy_g gauge\nproxy_g 1\n');
    }
  });

  it('reports a busy port with a stable code', async () => {
    const m = await serve({ registry: new Registry() });
    await expect(startMetricsServer({ registry: new Registry(), port: m.port })).rejects.toThrow(/BOWLINE_E_TELEMETRY_METRICS_LISTEN/);
  });
});
