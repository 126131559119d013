// The dashboard reading a real Prometheus (`bowline up --prometheus URL`): Debian's prometheus
// scrapes the sidecars' /stats/prometheus (targets by file discovery, written once the sidecars
// have bound their kernel-chosen metrics ports), and /ui/api/graph and /ui/api/service show the
// productpage -> reviews traffic with mTLS, per version, from Prometheus.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { call, TestMesh, type Sidecar } from './mesh-harness.js';
import { tempDir } from '../support/temp.js';

const PROMETHEUS = '/usr/bin/prometheus';
const mesh = new TestMesh();
const dir = tempDir('bowline-dash-prom-');
let prom: Child | undefined;
let promUrl = '';
let productpage: Sidecar;

/** The TCP port a process listens on, from the kernel's socket table (Prometheus was given port 0). */
function listeningPort(pid: number): number | undefined {
  const out = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes(`pid=${pid},`));
  const m = line ? /127\.0\.0\.1:(\d+)/.exec(line) : null;
  return m ? Number(m[1]) : undefined;
}

async function getJson(path: string): Promise<any> {
  const r = await fetch(`${mesh.api}${path}`);
  return r.json();
}

beforeAll(async () => {
  if (!existsSync(PROMETHEUS)) return;
  writeFileSync(join(dir, 'targets.json'), '[]');
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: mesh\n  metrics_path: /stats/prometheus\n  file_sd_configs:\n  - files: ['${join(dir, 'targets.json')}']\n    refresh_interval: 1s\n`);
  prom = start(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, '--web.listen-address=127.0.0.1:0']);
  const port = await waitFor(() => listeningPort(prom!.proc.pid!), { timeoutMs: 20_000, what: () => `prometheus listening:\n${prom!.output()}` });
  promUrl = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.status === 200, { timeoutMs: 20_000, what: 'prometheus ready' });
  await mesh.up(['--prometheus', promUrl]);
  const on = ['--telemetry', 'on'];
  productpage = await mesh.sidecar('productpage-v1', 'default', 'bookinfo-productpage', 9080, 'app=productpage,version=v1', 'productpage', on);
  await mesh.sidecar('reviews-v1', 'default', 'bookinfo-reviews', 9080, 'app=reviews,version=v1', 'reviews', on);
  await mesh.sidecar('reviews-v2', 'default', 'bookinfo-reviews', 9080, 'app=reviews,version=v2', 'reviews', on);
  const targets = ['productpage-v1', 'reviews-v1', 'reviews-v2'].map((n) => `127.0.0.1:${(JSON.parse(readFileSync(join(mesh.home, `${n}.ports.json`), 'utf8')) as { metrics: number }).metrics}`);
  writeFileSync(join(dir, 'targets.json'), JSON.stringify([{ targets, labels: { job: 'mesh' } }]));
}, 120_000);
afterAll(async () => {
  await mesh.down();
  await prom?.stop();
});

describe.skipIf(!existsSync(PROMETHEUS))('dashboard with bowline up --prometheus', () => {
  it('graph and service page show productpage -> reviews from Prometheus: rates, mTLS, both versions', async () => {
    // A bounded request loop: 120 requests at most, while waiting for the edges.
    let sent = 0;
    const edges = await waitFor(async () => {
      for (let i = 0; i < 20 && sent < 120; i++, sent++) await call(productpage.outbound, 'http://reviews:9080/reviews/0');
      const g = await getJson('/ui/api/graph?period=60');
      if (g.source !== 'prometheus') throw new Error(`graph source ${g.source}`);
      const es = (g.edges as Array<{ from: string; to: string; rps: number; mtls: boolean; reporter: string }>).filter((e) => e.from.startsWith('productpage-v1') && e.to.startsWith('reviews-'));
      // Both edges, and shown with mTLS once the sidecars' certificates are in use (the first requests
      // of a fresh mesh may still be counted before that: a fresh-clone CI run saw mtls false once).
      return es.length >= 2 && es.every((e) => e.mtls) ? es : undefined;
    }, { timeoutMs: 60_000, intervalMs: 1000, what: 'productpage -> reviews edges from Prometheus, with mTLS' });
    for (const e of edges!) {
      expect(e.rps).toBeGreaterThan(0);
      expect(e.mtls).toBe(true);
    }
    expect(edges!.map((e) => e.to).sort()).toEqual([expect.stringMatching(/^reviews-v1/), expect.stringMatching(/^reviews-v2/)]);
    // Round robin sends half to each version; once Prometheus has scraped every sidecar after the loop, the split reads so.
    const split = await waitFor(async () => {
      const svc = await getJson('/ui/api/service?name=reviews&period=60');
      if (svc.source !== 'prometheus') throw new Error(`service source ${svc.source}`);
      const sp = svc.split as Array<{ version: string; percent: number }>;
      return sp.length === 2 && sp.every((x) => x.percent >= 35 && x.percent <= 65) ? sp : undefined;
    }, { timeoutMs: 20_000, intervalMs: 1000, what: 'a 50/50 split of reviews from Prometheus' });
    expect(split!.map((x) => x.version)).toEqual(['v1', 'v2']);
  }, 90_000);
});
