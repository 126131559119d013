// Admin listener, atomic config replacement, refused configs, and the CLI's file source
// (reload on change, ports file, /quitquitquit drain) on real sockets.
import { createServer, request, type Server } from 'node:http';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from './proxy.js';
import { oneRouteConfig } from './sample-config.js';
import { waitFor } from '../../test/support/wait.js';
import { startBowline, repoRoot } from '../../test/support/process.js';
import { tempDir } from '../../test/support/temp.js';

let upstream: Server;
let upPort = 0;
let release: (() => void) | undefined;
beforeAll(async () => {
  upstream = createServer((req, res) => {
    if (req.url === '/slow') { release = () => res.end('slow done'); return; }
    res.end('up:' + req.url);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upPort = (upstream.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => { upstream.closeAllConnections(); upstream.close(() => r()); }));

function http(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin and config replacement', () => {
  it('serves /ready, /config_dump, /clusters, /stats', async () => {
    const p = await startProxy({ config: oneRouteConfig(upPort), adminPort: 0, log: () => {} });
    try {
      const port = p.ports.listeners.outbound!;
      expect((await http(port, '/a')).body).toBe('up:/a');
      expect(await http(p.ports.admin, '/ready')).toMatchObject({ status: 200 });
      const dump = JSON.parse((await http(p.ports.admin, '/config_dump')).body);
      expect(dump.version).toBe('v1');
      expect(dump.ports.listeners.outbound).toBe(port);
      const clusters = JSON.parse((await http(p.ports.admin, '/clusters')).body);
      expect(clusters[0]).toMatchObject({ name: 'up', endpoints: [{ address: '127.0.0.1', port: upPort, health: 'healthy', ejected: false }] });
      const stats = JSON.parse((await http(p.ports.admin, '/stats')).body);
      expect(stats).toMatchObject({ requestsTotal: 1, responses2xx: 1, upstreamConnectionsTotal: 1 });
      expect(stats.flag_NR).toBe(0);
    } finally { await p.close(); }
  });

  it('refuses an invalid config with its reasons and keeps the running one; applies a valid one atomically', async () => {
    const p = await startProxy({ config: oneRouteConfig(upPort), adminPort: 0, log: () => {} });
    try {
      const port = p.ports.listeners.outbound!;
      const bad = oneRouteConfig(upPort, (c) => { (c.listeners[0] as { port: unknown }).port = 'eighty'; c.version = 'bad'; });
      await expect(p.applyConfig(bad)).rejects.toThrow(/BOWLINE_E_PROXY_CONFIG_INVALID[\s\S]*listeners\[0\]\.port/);
      expect(p.current.version).toBe('v1');
      // an in-flight request finishes on the old config while the new one answers new requests
      const slow = http(port, '/slow');
      await waitFor(() => release !== undefined, { what: 'slow request upstream' });
      await p.applyConfig(oneRouteConfig(upPort, (c) => {
        c.version = 'v2';
        c.routes[0]!.virtualHosts[0]!.routes.unshift({ name: 'direct', match: [{ uri: { prefix: '/new' } }], directResponse: { status: 200, body: 'from v2' } });
      }));
      expect(p.ports.listeners.outbound).toBe(port); // same socket kept
      expect((await http(port, '/new')).body).toBe('from v2');
      release!();
      expect((await slow).body).toBe('slow done');
      expect(p.current.version).toBe('v2');
    } finally { await p.close(); }
  });
});

describe('bowline proxy CLI', () => {
  it('reloads its file, refuses a bad one, writes the ports file, drains on /quitquitquit', async () => {
    if (!existsSync(join(repoRoot, 'dist/cli/commands/proxy.js'))) return; // needs `npm run build`
    const dir = tempDir('bowline-proxy-cli-');
    const cfgFile = join(dir, 'proxy.json');
    const portsFile = join(dir, 'ports.json');
    writeFileSync(cfgFile, JSON.stringify(oneRouteConfig(upPort)));
    const child = startBowline(['proxy', '--config', cfgFile, '--admin-port', '0', '--ports-file', portsFile]);
    try {
      const ports = await waitFor(() => existsSync(portsFile) && JSON.parse(readFileSync(portsFile, 'utf8')), { what: 'ports file' });
      expect((await http(ports.listeners.outbound, '/x')).body).toBe('up:/x');
      writeFileSync(cfgFile, JSON.stringify(oneRouteConfig(upPort, (c) => { c.version = 'v2'; })));
      await waitFor(async () => JSON.parse((await http(ports.admin, '/config_dump')).body).version === 'v2', { what: 'reload to v2' });
      writeFileSync(cfgFile, '{"version": "v3", "node": 42}');
      await waitFor(() => child.output().includes('running config kept'), { what: 'refusal logged' });
      expect(JSON.parse((await http(ports.admin, '/config_dump')).body).version).toBe('v2');
      expect((await http(ports.admin, '/quitquitquit', 'POST')).body).toBe('OK\n');
      await waitFor(() => child.proc.exitCode !== null, { what: 'exit after drain' });
      expect(child.proc.exitCode).toBe(0);
    } finally { await child.stop(); }
  });
});
