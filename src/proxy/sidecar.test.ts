// A sidecar process assembled from a config file, on real sockets: the ports it reports, the
// config reloaded when the file changes, and a failed step closing what earlier steps opened.
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneRouteConfig } from './sample-config.js';
import { runSidecar, type SidecarOptions, type SidecarPorts } from './sidecar.js';
import { waitFor } from '../../test/support/wait.js';
import { httpGet } from '../../test/support/http.js';
import { tempDir } from '../../test/support/temp.js';

let upstream: Server;
let upPort = 0;
let dir = '';

beforeAll(async () => {
  upstream = createServer((req, res) => res.end(`up ${req.url}`));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upPort = (upstream.address() as { port: number }).port;
  dir = tempDir('bowline-sidecar-');
});
afterAll(async () => {
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function options(file: string, patch: Partial<SidecarOptions> = {}): SidecarOptions & { lines: string[]; reported: SidecarPorts[] } {
  const lines: string[] = [];
  const reported: SidecarPorts[] = [];
  return {
    source: { kind: 'file', file },
    admin: { port: 0, address: '127.0.0.1' },
    drainMs: 100,
    telemetry: { port: 0, address: '127.0.0.1' },
    statsIntervalMs: 0,
    exit: (code) => { throw new Error(`exit(${code}) called`); },
    log: (line) => lines.push(line),
    onPorts: (p) => reported.push(p),
    lines,
    reported,
    ...patch,
  };
}

describe('runSidecar', () => {
  it('serves the file config, reports its ports, and applies the file when it changes', async () => {
    const file = join(dir, 'proxy.json');
    writeFileSync(file, JSON.stringify(oneRouteConfig(upPort)));
    const o = options(file);
    const sc = await runSidecar(o);
    try {
      const ports = o.reported.at(-1)!;
      expect(ports.admin).toBeGreaterThan(0);
      expect(ports.metrics).toBeGreaterThan(0);
      expect(ports.listeners.outbound).toBeGreaterThan(0);
      expect((await httpGet(ports.listeners.outbound!, '/a', {}, '127.0.0.1')).body).toBe('up /a');
      expect((await httpGet(ports.metrics!, '/stats/prometheus')).status).toBe(200);

      writeFileSync(file, JSON.stringify(oneRouteConfig(upPort, (c) => { c.version = 'v2'; })));
      await waitFor(() => sc.proxy.current.version === 'v2', { what: 'config v2 applied after the file changed' });
      await waitFor(() => o.lines.some((l) => l.includes('config v2 applied (file changed)')), { what: 'the reload logged' });
    } finally {
      await sc.close();
    }
  });

  it('refuses an invalid config file and leaves nothing listening', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ node: {} }));
    const o = options(file);
    await expect(runSidecar(o)).rejects.toThrow(/BOWLINE_E_PROXY_CONFIG_INVALID/);
    expect(o.reported).toEqual([]);
  });

  it('closes the proxy and metrics when a later step (DNS on a busy port) fails', async () => {
    const file = join(dir, 'dns.json');
    writeFileSync(file, JSON.stringify(oneRouteConfig(upPort)));
    const busy = createNetServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    const servers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    // Only the upstream and the busy port listen now (the first test's sidecar is closed).
    const before = await waitFor(() => (servers() === 2 ? 2 : 0), { what: () => `2 TCP servers, now ${servers()}` });
    const o = options(file, { dns: { port } });
    try {
      await expect(runSidecar(o)).rejects.toThrow();
      // Admin, listener and metrics servers were bound before DNS failed; none is left.
      await waitFor(() => servers() === before, { what: () => `TCP servers back to ${before}, now ${servers()}` });
    } finally {
      busy.close();
    }
    expect(o.reported).toEqual([]);
  });
});
