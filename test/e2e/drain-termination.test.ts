// MeshConfig defaultConfig.terminationDrainDuration end to end, on real processes: `bowline up --mesh-config` with
// terminationDrainDuration 2s and drainDuration 30s, a sidecar started from a bootstrap token (its config pushed), a
// plaintext TCP connection through its inbound listener to an echo app. On SIGTERM the sidecar drains for the
// termination drain time: the open connection keeps flowing, gets its FIN at about 2 s (not at the proxy's 5 s default,
// not at drainDuration's 30 s), and the process exits 0.
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPortsFile } from '../../src/cli/ports-file.js';
import { startBowline, type Child } from '../support/process.js';
import { tempDir } from '../support/temp.js';
import { waitFor } from '../support/wait.js';

const TERMINATION_MS = 2000;
const home = tempDir('bowline-e2e-drain-term-');
const children: Child[] = [];
let api = '';
let pushTls = 0;
let echo: Server;

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const c = startBowline(args, { env: { BOWLINE_HOME: home } });
  const code = (await c.exited()) ?? -1;
  return { code, out: c.output() };
}

beforeAll(async () => {
  const meshFile = join(home, 'mesh.yaml');
  writeFileSync(meshFile, `defaultConfig:\n  drainDuration: 30s\n  terminationDrainDuration: ${TERMINATION_MS / 1000}s\n`);
  const portsFile = join(home, 'ports.json');
  const cp = startBowline(['up', '--home', home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0', '--mesh-config', meshFile, '--ports-file', portsFile], { env: { BOWLINE_HOME: home } });
  children.push(cp);
  await waitFor(() => cp.output().includes('control plane ready'), { timeoutMs: 20_000, what: () => `bowline up:\n${cp.output()}` });
  // The field is acted on now: no BOWLINE_W_API_NOT_ENFORCED for it.
  expect(cp.output()).not.toMatch(/NOT_ENFORCED.*terminationDrainDuration/);
  const p = JSON.parse(readFileSync(portsFile, 'utf8')) as { api: number; pushTls: number };
  api = `http://127.0.0.1:${p.api}`;
  pushTls = p.pushTls;
  echo = createServer((s) => { s.on('error', () => {}); s.pipe(s); });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
}, 60_000);

afterAll(async () => {
  for (const c of children.reverse()) await c.stop();
  await new Promise<void>((r) => echo.close(() => r()));
});

describe('MeshConfig defaultConfig.terminationDrainDuration', () => {
  it('is how long a sidecar drains on SIGTERM: an open TCP connection gets its FIN at that deadline', async () => {
    const t = await cli(['token', 'create', '--namespace', 'default', '--service-account', 'echo', '--ttl', '10m', '--server', api]);
    expect(t.code, t.out).toBe(0);
    const tokenFile = join(home, 'echo.token');
    writeFileSync(tokenFile, t.out.split('\n').find((l) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(l.trim()))!.trim() + '\n');
    const portsFile = join(home, 'echo.ports.json');
    const echoPort = (echo.address() as { port: number }).port;
    const sidecar = startBowline(['proxy', '--server', `127.0.0.1:${pushTls}`, '--token-file', tokenFile, '--name', 'echo', '--namespace', 'default',
      '--service-account', 'echo', '--labels', 'app=echo', '--service', `echo:9000/TCP@${echoPort}`, '--bind-port', '9000=0', '--outbound-port', '0',
      '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off', '--ports-file', portsFile]);
    children.push(sidecar);
    const inbound = await waitFor(() => {
      const l = (readPortsFile(portsFile, ['admin']) as unknown as { listeners?: Record<string, number> } | undefined)?.listeners ?? {};
      return Object.entries(l).find(([n]) => /inbound/.test(n))?.[1];
    }, { timeoutMs: 20_000, what: () => `the sidecar's inbound listener:\n${sidecar.output()}` });
    const s = connect(inbound!, '127.0.0.1');
    let text = '';
    let ended = false;
    s.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    s.on('error', () => {});
    const gotEnd = new Promise<void>((r) => s.once('end', () => { ended = true; r(); }));
    s.write('a');
    await waitFor(() => text === 'a', { timeoutMs: 10_000, what: () => `the echo through the sidecar (got ${JSON.stringify(text)}):\n${sidecar.output()}` });
    const t0 = Date.now();
    sidecar.proc.kill('SIGTERM');
    // The connection still flows while the sidecar drains.
    s.write('b');
    await waitFor(() => text === 'ab' || ended, { timeoutMs: 10_000, what: 'the echo during the drain' });
    expect(text).toBe('ab');
    await gotEnd;
    const tookMs = Date.now() - t0;
    expect(tookMs).toBeGreaterThanOrEqual(TERMINATION_MS - 50);
    expect(tookMs).toBeLessThan(5000); // not the proxy's default, nor drainDuration's 30 s
    s.end();
    expect(await sidecar.exited()).toBe(0);
  }, 60_000);
});
