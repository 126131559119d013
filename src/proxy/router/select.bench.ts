/**
 * Micro-benchmark of CompiledRouteConfig.select on a realistic 10-rule table (the benchmark's
 * VirtualService: the hot rule is a header match near the end). Run by hand:
 *   node --import tsx src/proxy/router/select.bench.ts
 * Prints ns per select for a few request shapes. Not a test (numbers live in reports, not CI).
 */
import type { NodeInfo, Route, RouteConfig } from '../../proxy-config/types.js';
import { compileRouteConfig } from './compile.js';
import type { RouteInput } from './types.js';

const node: NodeInfo = { id: 'bench', role: 'sidecar', workload: 'bench', namespace: 'default', serviceAccount: 'bench', labels: { app: 'bench', version: 'v1' } };
const to = (cluster: string): Route['route'] => ({ destinations: [{ cluster, weight: 100 }] });

/** The ten rules, in the order a VirtualService would list them. */
export const benchRoutes: Route[] = [
  { match: [{ uri: { exact: '/healthz' } }], directResponse: { status: 200, body: 'ok' } },
  { match: [{ uri: { prefix: '/admin' }, sourceLabels: { app: 'ops' } }], route: to('admin') },
  { match: [{ uri: { regex: '/api/v[0-9]+/users/[0-9]+' }, method: { exact: 'DELETE' } }], route: to('users-write') },
  { match: [{ uri: { prefix: '/static' } }], route: { ...to('static')!, rewrite: { uri: '/' } } },
  { match: [{ queryParams: { debug: { exact: '1' } } }], route: to('debug') },
  { match: [{ headers: { 'x-canary': { present: true } } }], route: { destinations: [{ cluster: 'canary-a', weight: 50 }, { cluster: 'canary-b', weight: 50 }] } },
  { match: [{ uri: { prefix: '/reviews' }, headers: { 'end-user': { exact: 'jason' } } }], route: to('reviews-v2') },
  { match: [{ uri: { prefix: '/reviews' }, headers: { 'end-user': { regex: 'test-.*' } } }], route: to('reviews-v3') },
  { match: [{ uri: { prefix: '/ratings' } }], route: { ...to('ratings')!, retries: { attempts: 2, retryOn: ['5xx'] }, timeoutMs: 3000 } },
  { route: { destinations: [{ cluster: 'reviews-v1', weight: 90 }, { cluster: 'reviews-v3', weight: 10 }] } },
];

const rc: RouteConfig = { name: 'bench', virtualHosts: [{ name: 'reviews', domains: ['reviews', 'reviews:9080', 'reviews.default.svc.cluster.local'], routes: benchRoutes }] };
const table = compileRouteConfig(rc, node);

function input(path: string, headers: Record<string, string>): RouteInput {
  return { method: 'GET', path, authority: 'reviews:9080', scheme: 'http', port: 9080, header: (n) => headers[n] };
}

const cases: Array<[string, RouteInput]> = [
  ['hot: header match (rule 7)', input('/reviews/0', { 'end-user': 'jason' })],
  ['fall-through to default (rule 10)', input('/productpage?u=normal', { 'end-user': 'mary' })],
  ['first rule (exact)', input('/healthz', {})],
];

for (const [name, req] of cases) {
  for (let i = 0; i < 200_000; i++) table.select(req); // warm-up
  const n = 2_000_000;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) table.select(req);
  const wall = Number(process.hrtime.bigint() - t0) / n;
  const c = process.cpuUsage(c0);
  const cpu = ((c.user + c.system) * 1000) / n; // CPU time is steadier than wall time on a shared machine
  console.log(`${name.padEnd(36)} ${cpu.toFixed(1)} ns/select CPU  (${wall.toFixed(1)} wall)`);
}
