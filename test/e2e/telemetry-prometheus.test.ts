// A real Prometheus (Debian's /usr/bin/prometheus) scrapes Bowline proxies under traffic and
// answers the PromQL users run on Istio's dashboards: an 80/20 VirtualService split between
// reviews v1 and v2 shows up as 80/20 in istio_requests_total by destination_version.
import http from 'node:http';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyConfig } from '../../src/proxy-config/index.js';
import { start, type Child } from '../support/process.js';
import { waitFor, waitForOutput } from '../support/wait.js';
import { dashboards } from '../../dashboards/generate.js';
import { get, inboundConfig, mesh, node, outboundCluster, startApp, startMeshProxy, type MeshProxy } from './telemetry-mesh.js';
import { tempDir } from '../support/temp.js';

const PROMETHEUS = '/usr/bin/prometheus';

describe.skipIf(!existsSync(PROMETHEUS))('telemetry with a real Prometheus', () => {
  const closers: Array<() => Promise<void>> = [];
  let source: MeshProxy;
  let v1: MeshProxy;
  let v2: MeshProxy;
  let prom: Child;
  let promPort = 0;
  let dir = '';
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  beforeAll(async () => {
    const apps = await Promise.all(['v1', 'v2'].map((v) => startApp((_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: v })))));
    closers.push(...apps.map((a) => a.close));
    v1 = await startMeshProxy(inboundConfig(node('reviews', 'v1'), mesh(0), apps[0]!.port));
    v2 = await startMeshProxy(inboundConfig(node('reviews', 'v2'), mesh(0), apps[1]!.port));
    const c1 = outboundCluster('reviews', 'v1', [{ port: v1.port('inbound'), version: 'v1' }]);
    const c2 = outboundCluster('reviews', 'v2', [{ port: v2.port('inbound'), version: 'v2' }]);
    const cfg: ProxyConfig = {
      node: node('productpage', 'v1'),
      mesh: mesh(0),
      listeners: [{ name: 'outbound', address: '127.0.0.1', port: 0, direction: 'outbound', filterChains: [{ name: 'http', http: { routeConfig: 'reviews' } }] }],
      routes: [{ name: 'reviews', virtualHosts: [{ name: 'reviews', domains: ['*'], routes: [{ name: 'split', route: { destinations: [{ cluster: c1.cluster.name, weight: 80 }, { cluster: c2.cluster.name, weight: 20 }] } }] }] }],
      clusters: [c1.cluster, c2.cluster],
      endpoints: [c1.cla, c2.cla],
      secrets: [],
    };
    source = await startMeshProxy(cfg);
    closers.push(() => source.close(), () => v1.close(), () => v2.close());

    dir = tempDir('bowline-prom-');
    const targets = [source, v1, v2].map((p) => `'127.0.0.1:${p.metrics.port}'`).join(', ');
    writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: bowline-proxies\n    metrics_path: /stats/prometheus\n    static_configs:\n      - targets: [${targets}]\n`);
    // Port 0: Prometheus binds a kernel-chosen port and logs the address it listens on (level info).
    prom = start(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, '--web.listen-address=127.0.0.1:0', '--log.level=info']);
    const listening = await waitForOutput(prom, /msg="Listening on" address=127\.0\.0\.1:(\d+)/, { timeoutMs: 30_000, what: 'prometheus listening' });
    promPort = Number(/:(\d+)$/.exec(listening)![1]);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${promPort}/-/ready`)).ok, { timeoutMs: 30_000, what: 'prometheus ready' });
  });

  afterAll(async () => {
    await prom?.stop();
    for (const c of closers.splice(0).reverse()) await c();
    agent.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function query(q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
    const j = (await r.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    expect(j.status).toBe('success');
    return j.data.result;
  }

  it('scrapes the proxies and shows the configured 80/20 split by destination_version', async () => {
    // Traffic in the background (bounded: at most ~60 s, a few requests in flight), until Prometheus has seen enough.
    let stop = false;
    let sent = 0;
    const traffic = (async () => {
      const deadline = Date.now() + 60_000;
      while (!stop && Date.now() < deadline) {
        await Promise.all([0, 1, 2, 3].map(async () => {
          const r = await get(source.port('outbound'), '/reviews/0', { host: 'reviews:9080' }, agent);
          expect(r.status).toBe(200);
          sent++;
        }));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      const q = 'sum(rate(istio_requests_total{reporter="destination",destination_service_name="reviews"}[1m])) by (destination_version)';
      // The first scrape lands ~5 s after start; wait until both versions have a rate over several scrapes.
      const result = await waitFor(async () => {
        const up = await query('count_over_time(up{job="bowline-proxies"}[1m])');
        if (up.length !== 3 || up.some((s) => Number(s.value[1]) < 6)) return undefined;
        const r = await query(q);
        return r.length === 2 && r.every((s) => Number(s.value[1]) > 0) ? r : undefined;
      }, { timeoutMs: 50_000, intervalMs: 500, what: 'an istio_requests_total rate for both reviews versions' });
      const rate = Object.fromEntries(result!.map((s) => [s.metric['destination_version'], Number(s.value[1])]));
      const share = rate['v1']! / (rate['v1']! + rate['v2']!);
      expect(share).toBeGreaterThan(0.77);
      expect(share).toBeLessThan(0.83);

      // The source reporter sees the same split, labelled from config (the callee's version).
      const src = await query('sum(istio_requests_total{reporter="source",source_workload="productpage-v1",destination_service="reviews.default.svc.cluster.local"}) by (destination_version)');
      const total = Object.fromEntries(src.map((s) => [s.metric['destination_version'], Number(s.value[1])]));
      expect(total['v1']! / (total['v1']! + total['v2']!)).toBeCloseTo(0.8, 1);

      // Peer metadata exchange: the destination reporter knows its caller, the source knows its callee.
      const dst = await query('sum(istio_requests_total{reporter="destination",source_workload="productpage-v1",source_app="productpage",source_version="v1",destination_app="reviews"}) by (destination_workload)');
      expect(dst.map((s) => s.metric['destination_workload']).sort()).toEqual(['reviews-v1', 'reviews-v2']);

      // Histograms work with histogram_quantile as Istio's dashboards use them.
      const p50 = await query('histogram_quantile(0.5, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[1m])) by (le))');
      expect(Number(p50[0]!.value[1])).toBeGreaterThan(0);
      expect(Number(p50[0]!.value[1])).toBeLessThan(1000);
    } finally {
      stop = true;
      await traffic;
    }
    expect(sent).toBeGreaterThan(100);
  });

  it('answers every query of the shipped Grafana dashboards', async () => {
    // The workload dashboard is looked at for a server (reviews-v1) and a client (productpage-v1).
    const base = { service: 'reviews.default.svc.cluster.local', qrep: 'destination', srcns: '.*', namespace: 'default' };
    const choices: Array<Record<string, string>> = [{ ...base, workload: 'reviews-v1' }, { ...base, workload: 'productpage-v1' }];
    const empty: string[] = [];
    for (const d of dashboards) {
      for (const row of d.rows) {
        for (const p of row.panels) {
          for (const t of p.targets) {
            let found = false;
            for (const vars of choices) {
              const expr = t.expr.replace(/\$(\w+)/g, (_m, v: string) => vars[v] ?? '');
              const r = await query(expr); // status "success" asserted inside: the PromQL is valid
              found ||= r.length > 0;
            }
            if (!found) empty.push(`${d.title} / ${p.title}: ${t.expr}`);
          }
        }
      }
    }
    // HTTP-only traffic: TCP panels have `or vector(0)`; the only empty panels allowed are these.
    expect(empty.filter((e) => !/TCP bytes sent by destination service|response flags|Response Flags|mTLS share/i.test(e))).toEqual([]);
  });
});
