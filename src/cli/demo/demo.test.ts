import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import { Progress, seconds } from './progress.js';
import { Supervisor, type Managed } from './supervisor.js';
import { bindForChild, portProblem } from './ports.js';
import { logLine, StartError } from './readiness.js';
import { sidecarArgs, gatewayArgs } from './run.js';
import { DEMO_WORKLOADS } from './workloads.js';
import { SCENARIOS, scenarioFiles } from './scenarios.js';
import { tempDir } from '../../../test/support/temp.js';

const dirs: string[] = [];
const sups: Supervisor[] = [];
afterEach(async () => {
  await Promise.all(sups.splice(0).map((s) => s.stopAll({ graceMs: 500 })));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function supervisor(onDeath?: (m: Managed, code: number | null) => void) {
  const dir = tempDir('bowline-demo-test-');
  dirs.push(dir);
  const s = new Supervisor(dir, onDeath);
  sups.push(s);
  return s;
}
const node = (code: string) => ({ command: process.execPath, args: ['-e', code] });

describe('demo progress', () => {
  it('prints a check mark and the duration per step, a cross on failure', async () => {
    let out = '';
    let t = 0;
    const p = new Progress((s) => { out += s; }, () => t);
    await p.step('control plane', async () => { t += 1234; });
    await expect(p.step('gateway', async () => { t += 250; throw new Error('no'); })).rejects.toThrow('no');
    expect(out).toBe('  \u2714 control plane (1.2 s)\n  \u2718 gateway (0.25 s)\n');
    expect(seconds(12_345)).toBe('12.3 s');
  });
});

describe('demo supervisor', () => {
  it('logs each process to NAME.log, reports a death, and stops the rest with SIGTERM', async () => {
    const deaths: string[] = [];
    const s = supervisor((m, code) => deaths.push(`${m.spec.name}:${code}`));
    const up = s.start({ name: 'stays', ...node("console.log('up'); process.on('SIGTERM', () => { console.log('bye'); process.exit(0); }); setInterval(() => {}, 1000)") });
    const dies = s.start({ name: 'dies', ...node("console.error('boom'); process.exit(3)") });
    await dies.exited;
    await logLine(up, /up/, 'up line');
    await expect.poll(() => deaths).toEqual(['dies:3']);
    expect(readFileSync(dies.logPath, 'utf8')).toContain('boom');
    expect(Supervisor.alive(up)).toBe(true);
    await s.stopAll();
    expect(Supervisor.alive(up)).toBe(false);
    expect(readFileSync(up.logPath, 'utf8')).toContain('bye');
    expect(deaths).toEqual(['dies:3']);
  });

  it('kills a process that ignores SIGTERM after the grace time', async () => {
    const s = supervisor();
    const stubborn = s.start({ name: 'stubborn', ...node("process.on('SIGTERM', () => console.log('got SIGTERM, ignoring it')); console.log('ready'); setInterval(() => {}, 1000)") });
    await logLine(stubborn, /ready/, 'ready');
    await s.stopAll({ graceMs: 300 });
    // SIGTERM first (the process saw it and logged), SIGKILL only after it ignored it: no elapsed time asserted.
    expect(readFileSync(stubborn.logPath, 'utf8')).toContain('got SIGTERM, ignoring it');
    expect(stubborn.proc.signalCode).toBe('SIGKILL');
  });

  it('a readiness wait fails fast with the log path when the process exits first', async () => {
    const s = supervisor();
    const m = s.start({ name: 'broken', ...node("console.error('cannot start: bad flag'); process.exit(2)") });
    const err = await logLine(m, /listening/, 'listening line').catch((e) => e);
    expect(err).toBeInstanceOf(StartError);
    expect(err.message).toContain('broken exited (code 2)');
    expect(err.message).toContain(m.logPath);
    expect(err.message).toContain('cannot start: bad flag');
  });
});

describe('demo ports', () => {
  it('finds a taken port; a port bound for a child stays taken until handed over', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    expect(await portProblem(port)).toBe('EADDRINUSE');
    srv.close();
    const held = await bindForChild();
    expect(await portProblem(held.port)).toBe('EADDRINUSE');
    held.server.close();
  });
});

describe('demo plan', () => {
  it('gives every sidecar its service, labels, app port, token, and ports it picks itself (9080=0, outbound auto), and the gateway 80=PORT', () => {
    const reviews = DEMO_WORKLOADS.find((w) => w.name === 'reviews-v2')!;
    const args = sidecarArgs(reviews, { push: '127.0.0.1:1', appPort: 2, portsFile: '/f', tokenFile: '/t' });
    const flag = (a: string[], f: string) => a[a.indexOf(f) + 1];
    expect([flag(args, '--service'), flag(args, '--labels'), flag(args, '--app-port'), flag(args, '--bind-port'), flag(args, '--outbound-port'), flag(args, '--admin-port'), flag(args, '--token-file'), flag(args, '--service-account')])
      .toEqual(['reviews:9080/HTTP', 'app=reviews,version=v2', '2', '9080=0', 'auto', '0', '/t', 'bookinfo-reviews']);
    const gw = gatewayArgs({ push: 'x', port: 8080, portsFile: '/g', tokenFile: '/gt' });
    expect([flag(gw, '--bind-port'), flag(gw, '--token-file')]).toEqual(['80=8080', '/gt']);
    expect(new Set(DEMO_WORKLOADS.map((w) => w.name)).size).toBe(DEMO_WORKLOADS.length);
  });

  it('names only scenario files that exist in samples/networking', async () => {
    const { existsSync } = await import('node:fs');
    for (const name of Object.keys(SCENARIOS)) for (const f of scenarioFiles(name)!) expect(existsSync(f), f).toBe(true);
    expect(scenarioFiles('nope')).toBeUndefined();
  });
});
