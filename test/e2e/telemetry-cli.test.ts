// `bowline proxy` as users run it (the built CLI): it serves Istio's metrics on its metrics
// port (0 = ephemeral, reported in the ports file), writes access logs per mesh config, and
// `--telemetry off` turns it all off.
import http from 'node:http';
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, startBowline, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { get, mesh, node, startApp } from './telemetry-mesh.js';
import { tempDir } from '../support/temp.js';

describe.skipIf(!existsSync(join(repoRoot, 'dist/cli/main.js')))('bowline proxy telemetry (CLI)', () => {
  let dir = '';
  let app: { port: number; close(): Promise<void> };
  const children: Child[] = [];
  const agent = new http.Agent({ keepAlive: true });

  beforeAll(async () => {
    dir = tempDir('bowline-tel-cli-');
    app = await startApp((_q, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  });
  afterAll(async () => {
    for (const c of children) await c.stop();
    agent.destroy();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function writeConfig(name: string, accessLogPath: string): string {
    const m = mesh(0);
    m.accessLog = { enabled: true, encoding: 'JSON', path: accessLogPath };
    const cfg = {
      node: node('productpage', 'v1'),
      mesh: m,
      listeners: [{ name: 'outbound', address: '127.0.0.1', port: 0, direction: 'outbound', filterChains: [{ name: 'http', http: { routeConfig: 'r' } }] }],
      routes: [{ name: 'r', virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ name: 'details', route: { destinations: [{ cluster: 'outbound|9080||details.default.svc.cluster.local', weight: 1 }] } }] }] }],
      clusters: [{ name: 'outbound|9080||details.default.svc.cluster.local', discovery: 'eds', protocol: 'http1', service: { host: 'details.default.svc.cluster.local', name: 'details', namespace: 'default', port: 9080 } }],
      endpoints: [{ cluster: 'outbound|9080||details.default.svc.cluster.local', endpoints: [{ address: '127.0.0.1', port: app.port, workload: 'details-v1', namespace: 'default', labels: { app: 'details', version: 'v1' } }] }],
      secrets: [],
    };
    const f = join(dir, name);
    writeFileSync(f, JSON.stringify(cfg));
    return f;
  }

  async function run(extra: string[], tag: string): Promise<{ ports: Record<string, any>; log: string; child: Child }> {
    const log = join(dir, `${tag}.log`);
    const portsFile = join(dir, `${tag}.ports.json`);
    const child = startBowline(['proxy', '--config', writeConfig(`${tag}.json`, log), '--admin-port', '0', '--ports-file', portsFile, ...extra]);
    children.push(child);
    const ports = await waitFor(() => existsSync(portsFile) && JSON.parse(readFileSync(portsFile, 'utf8')), { timeoutMs: 20_000, what: () => `ports file (${child.output()})` });
    return { ports, log, child };
  }

  it('serves istio_requests_total on an ephemeral metrics port and writes JSON access logs', async () => {
    const { ports, log } = await run(['--metrics-port', '0'], 'on');
    expect(ports.metrics).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect((await get(ports.listeners.outbound, `/details/${i}`, { host: 'details:9080', 'user-agent': 'cli-test' }, agent)).status).toBe(200);
    const page = await waitFor(async () => {
      const text = await (await fetch(`http://127.0.0.1:${ports.metrics}/stats/prometheus`)).text();
      return /istio_requests_total\{[^}]*response_code="200"[^}]*\} 5\n/.test(text) ? text : undefined;
    }, { what: '5 requests counted' });
    expect(page).toMatch(/istio_requests_total\{reporter="source",source_workload="productpage-v1",[^}]*destination_workload="details-v1",[^}]*destination_service_name="details"/);
    expect(page).toContain('# TYPE istio_request_duration_milliseconds histogram');
    const lines = await waitFor(() => {
      const l = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : [];
      return l.length >= 5 ? l : undefined;
    }, { what: 'access log lines' });
    const first = JSON.parse(lines![0]!);
    expect(first).toMatchObject({ method: 'GET', path: '/details/0', response_code: 200, authority: 'details:9080', user_agent: 'cli-test', upstream_cluster: 'outbound|9080||details.default.svc.cluster.local', source_workload: 'productpage-v1', destination_workload: 'details-v1' });
    expect(first.x_request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('--telemetry off serves no metrics and writes no access log', async () => {
    const { ports, log } = await run(['--telemetry', 'off'], 'off');
    expect(ports.metrics).toBeUndefined();
    expect((await get(ports.listeners.outbound, '/details/0', { host: 'details:9080' }, agent)).status).toBe(200);
    expect(existsSync(log)).toBe(false);
  });
});
