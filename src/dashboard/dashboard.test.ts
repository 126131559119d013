// The dashboard on a real control plane: a proxy stream reports traffic, /ui/api/ shows it,
// /ui/ serves the page, and off loopback the token form opens the dashboard (and only the dashboard).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/support/wait.js';
// eslint-disable-next-line no-restricted-imports -- the test composes a real control plane, as `bowline up` does
import { startControlPlane, type ControlPlane } from '../control/control-plane.js';
// eslint-disable-next-line no-restricted-imports -- the test runs the real proxy-side client against the control plane
import { ControlClient } from '../proxy/control-client/client.js';
import type { StatsRow } from '../proxy-config/stats.js';
import { tempDir } from '../../test/support/temp.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function controlPlane(listenApi = '127.0.0.1:0', extra: { requireToken?: boolean } = {}): Promise<{ cp: ControlPlane; ui: string }> {
  const home = tempDir('bowline-dash-');
  const ui = join(home, 'ui');
  mkdirSync(ui);
  writeFileSync(join(ui, 'index.html'), '<!doctype html><title>Bowline dashboard</title>');
  writeFileSync(join(ui, 'app.js'), 'export {};');
  const cp = await startControlPlane({
    home, listenApi, listenPush: '127.0.0.1:0', pushPlaintext: true, log: () => {}, ...extra,
    push: true, dashboard: { uiDir: ui + '/' },
  });
  cleanup.push(() => cp.close());
  return { cp, ui };
}

const row = (o: Partial<StatsRow>): StatsRow => ({ r: 'd', sw: 'productpage-v1', sn: 'default', sa: 'productpage', sv: 'v1', dw: 'reviews-v2', dn: 'default', da: 'reviews', dv: 'v2', ds: 'reviews.default.svc.cluster.local', p: 'http', m: 1, c: '2xx', n: 30, e: 0, s: 90, b: [2, 30], ...o });

describe('dashboard', () => {
  it('shows the traffic a proxy reports over its stream as graph edges and a per-version split', async () => {
    const { cp } = await controlPlane();
    const client = new ControlClient({
      server: `127.0.0.1:${cp.ports.push}`,
      node: { id: 'reviews-v2.default', role: 'sidecar', workload: 'reviews-v2', namespace: 'default', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews', version: 'v2' } },
      workload: { name: 'reviews-v2', namespace: 'default', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews', version: 'v2' }, address: '127.0.0.1', services: [{ service: 'reviews', port: 9080 }] },
      apply: async () => {}, log: () => {},
    });
    client.start();
    cleanup.push(() => client.stop());
    await waitFor(() => client.connected && client.lastAppliedAt !== undefined, { what: 'proxy synced' });
    // The proxy's registration reaches the mesh snapshot a moment after its first push: until then the
    // graph knows reviews-v2 only from traffic (a node without a proxy, labelled by its workload name).
    const empty = await waitFor(async () => {
      const r = await (await fetch(`${cp.apiUrl}/ui/api/graph`)).json();
      return r.nodes.some((n: { label: string }) => n.label === 'reviews v2') ? r : undefined;
    }, { what: 'the registered workload in the graph' });
    expect(empty.edges).toEqual([]);
    expect(empty.empty).toMatch(/No traffic in the last minute/);
    client.sendStats({ type: 'stats', intervalMs: 5000, bounds: [0.5, 1, 5], rows: [row({}), row({ dw: 'reviews-v1', dv: 'v1', n: 10, b: [2, 10] }), row({ c: '5xx', n: 1, e: 1, b: [3, 1] })] });
    const g = await waitFor(async () => {
      const r = await (await fetch(`${cp.apiUrl}/ui/api/graph`)).json();
      return r.edges.length ? r : undefined;
    }, { what: 'edges' });
    const toV2 = g.edges.find((e: { to: string }) => e.to === 'reviews-v2.default');
    expect(toV2).toMatchObject({ from: 'productpage-v1.default', service: 'reviews.default.svc.cluster.local', requests: 31, errors: 1, mtls: true, protocol: 'http' });
    expect(toV2.rps).toBeGreaterThan(0);
    expect(g.nodes.map((n: { label: string }) => n.label)).toEqual(expect.arrayContaining(['productpage v1', 'reviews v1', 'reviews v2']));
    expect(g.source).toBe('push');
    const svc = await (await fetch(`${cp.apiUrl}/ui/api/service?name=reviews.default.svc.cluster.local`)).json();
    expect(svc.split.map((s: { version: string; percent: number }) => [s.version, Math.round(s.percent)])).toEqual([['v1', 24], ['v2', 76]]);
    expect(svc.series.at(-1).byVersion.v2).toBeGreaterThan(0);
    const unknown = await fetch(`${cp.apiUrl}/ui/api/service?name=nope`);
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).known).toContain('reviews.default');
    const proxies = await (await fetch(`${cp.apiUrl}/ui/api/proxies`)).json();
    expect(proxies.proxies.map((p: { id: string }) => p.id)).toEqual(['reviews-v2.default']);
  });

  it('serves the page and its bundle; lists config with validation and the commands to change it', async () => {
    const { cp } = await controlPlane();
    const page = await fetch(`${cp.apiUrl}/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('Bowline dashboard');
    expect((await fetch(`${cp.apiUrl}/ui/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${cp.apiUrl}/ui/..%2f..%2fadmin-token`)).status).toBe(404);
    const vs = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'default' }, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v9' } }] }] } };
    const put = await fetch(`${cp.apiUrl}/apis/networking.istio.io/v1/namespaces/default/virtualservices`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(vs) });
    expect(put.status).toBe(201);
    const cfg = await (await fetch(`${cp.apiUrl}/ui/api/config`)).json();
    const r = cfg.resources.find((x: { name: string }) => x.name === 'reviews');
    expect(r.yaml).toContain('subset: v9');
    expect(r.findings.map((f: { code: string }) => f.code)).toContain('BOWLINE_W_API_UNKNOWN_SUBSET');
    expect(r.commands.join('\n')).toContain('bowline delete virtualservice reviews -n default');
  });

  it('off loopback: the API needs a token; the form sets a cookie that opens /ui/ only', async () => {
    const { cp } = await controlPlane('0.0.0.0:0');
    const base = `http://127.0.0.1:${cp.ports.api}`;
    expect((await fetch(`${base}/ui/`)).status).toBe(200);
    expect((await fetch(`${base}/ui/api/graph`)).status).toBe(401);
    const bad = await fetch(`${base}/ui/login`, { method: 'POST', body: 'token=wrong', headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
    expect(bad.status).toBe(401);
    const ok = await fetch(`${base}/ui/login`, { method: 'POST', body: `token=${encodeURIComponent(cp.adminToken)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
    expect(ok.status).toBe(303);
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Path=\/ui\//);
    const jar = cookie.split(';')[0]!;
    expect((await fetch(`${base}/ui/api/graph`, { headers: { cookie: jar } })).status).toBe(200);
    expect((await fetch(`${base}/apis/networking.istio.io/v1/virtualservices`, { headers: { cookie: jar } })).status).toBe(401);
  });

  it('a viewer API token opens the dashboard (login form or bearer) and nothing else; a registry-read token does not', async () => {
    const { cp } = await controlPlane('127.0.0.1:0', { requireToken: true });
    const base = cp.apiUrl;
    const mint = async (scope: string, name: string) => ((await (await fetch(`${base}/v1/auth/tokens`, { method: 'POST', headers: { authorization: `Bearer ${cp.adminToken}` }, body: JSON.stringify({ name, scope }) })).json()) as { token: string }).token;
    const viewer = await mint('viewer', 'wallboard');
    const login = (token: string) => fetch(`${base}/ui/login`, { method: 'POST', body: `token=${encodeURIComponent(token)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
    const ok = await login(viewer);
    expect(ok.status).toBe(303);
    const jar = ok.headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${base}/ui/api/graph`, { headers: { cookie: jar } })).status).toBe(200);
    expect((await fetch(`${base}/ui/api/graph`, { headers: { authorization: `Bearer ${viewer}` } })).status).toBe(200);
    expect((await fetch(`${base}/apis/networking.istio.io/v1/virtualservices`, { headers: { authorization: `Bearer ${viewer}` } })).status).toBe(403);
    // No mutation with a viewer token: not through the config API, not through the dashboard.
    const vsBody = JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'x', namespace: 'default' }, spec: { hosts: ['x'] } });
    expect((await fetch(`${base}/apis/networking.istio.io/v1/namespaces/default/virtualservices`, { method: 'POST', headers: { authorization: `Bearer ${viewer}`, 'content-type': 'application/json' }, body: vsBody })).status).toBe(403);
    expect((await fetch(`${base}/ui/api/config`, { method: 'POST', headers: { cookie: jar, 'content-type': 'application/json' }, body: vsBody })).status).toBe(403);
    expect((await fetch(`${base}/apis/networking.istio.io/v1/namespaces/default/virtualservices/x`, { headers: { authorization: `Bearer ${cp.adminToken}` } })).status).toBe(404);
    const other = await login(await mint('registry-read', 'east'));
    expect(other.status).toBe(401);
    expect(await other.text()).toContain('scope registry-read');
    await fetch(`${base}/v1/auth/tokens/wallboard`, { method: 'DELETE', headers: { authorization: `Bearer ${cp.adminToken}` } });
    expect((await fetch(`${base}/ui/api/graph`, { headers: { cookie: jar } })).status).toBe(401);
  });
});
