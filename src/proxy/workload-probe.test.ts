import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseWorkloadProbe, runWorkloadProbe, WorkloadProber, type WorkloadProbe } from './workload-probe.js';

const closers: Array<() => void> = [];
afterEach(() => { for (const c of closers.splice(0)) c(); });

function listen(server: net.Server): Promise<number> {
  closers.push(() => server.close());
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));
}

/** Timers a test drives: `fire()` runs the pending one. */
function manualTimers() {
  let pending: (() => void) | undefined;
  const delays: number[] = [];
  return {
    delays,
    setTimeout: (fn: () => void, ms: number) => { pending = fn; delays.push(ms); return 1; },
    clearTimeout: () => { pending = undefined; },
    fire: () => { const p = pending; pending = undefined; p?.(); },
  };
}

describe('WorkloadGroup probe (run by the VM\'s proxy)', () => {
  it('refuses a probe file that is not one of httpGet, tcpSocket, exec, or has bad numbers', () => {
    expect(() => parseWorkloadProbe('{')).toThrow('--probe-file is not JSON');
    expect(() => parseWorkloadProbe('{"periodSeconds": 5}')).toThrow('exactly one of httpGet, tcpSocket, exec is needed, got none');
    expect(() => parseWorkloadProbe('{"httpGet": {"port": 80}, "exec": {"command": ["true"]}}')).toThrow('got httpGet, exec');
    expect(() => parseWorkloadProbe('{"grpc": {"port": 80}}')).toThrow('grpc probes are not run');
    expect(() => parseWorkloadProbe('{"tcpSocket": {"port": 0}}')).toThrow('tcpSocket.port must be a port number');
    expect(() => parseWorkloadProbe('{"exec": {"command": []}}')).toThrow('exec.command must be a non-empty list');
    expect(() => parseWorkloadProbe('{"exec": {"command": ["true"]}, "failureThreshold": -1}')).toThrow('failureThreshold must be a whole number');
    expect(parseWorkloadProbe('{"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 2}')).toEqual({ httpGet: { path: '/ready', port: 8080 }, periodSeconds: 2 });
  });

  it('httpGet passes on 2xx/3xx and fails on 5xx naming the answer; the headers are sent', async () => {
    let status = 200;
    let seen = '';
    const port = await listen(http.createServer((req, res) => { seen = String(req.headers['x-probe']); res.statusCode = status; res.end(); }));
    const p: WorkloadProbe = { httpGet: { path: '/ready', port, httpHeaders: [{ name: 'X-Probe', value: 'vm' }] } };
    expect(await runWorkloadProbe(p)).toBeUndefined();
    expect(seen).toBe('vm');
    status = 503;
    expect(await runWorkloadProbe(p)).toBe(`GET /ready on port ${port} answered 503`);
  });

  it('tcpSocket passes when something listens, fails when nothing does', async () => {
    const server = net.createServer((s) => s.destroy());
    const port = await listen(server);
    expect(await runWorkloadProbe({ tcpSocket: { port } })).toBeUndefined();
    await new Promise((r) => server.close(r));
    expect(await runWorkloadProbe({ tcpSocket: { port } })).toMatch(new RegExp(`tcp 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
  });

  it('exec passes on exit 0, fails with the exit code and stderr, and is killed after timeoutSeconds', async () => {
    expect(await runWorkloadProbe({ exec: { command: ['true'] } })).toBeUndefined();
    expect(await runWorkloadProbe({ exec: { command: ['sh', '-c', 'echo not ready >&2; exit 3'] } })).toBe('exec sh -c echo not ready >&2; exit 3: exit 3: not ready');
    expect(await runWorkloadProbe({ exec: { command: ['sleep', '30'] }, timeoutSeconds: 1 })).toBe('exec sleep 30: no exit within 1000 ms');
    expect(await runWorkloadProbe({ exec: { command: ['/nonexistent/probe'] } })).toMatch(/^exec \/nonexistent\/probe: .*ENOENT/);
  });

  it('thresholds: healthy after successThreshold passes in a row, unhealthy after failureThreshold failures in a row; each change reported once', async () => {
    const results: Array<string | undefined> = [undefined, 'down', undefined, 'down', 'down', 'down', 'down', undefined, undefined];
    const timers = manualTimers();
    const changes: string[] = [];
    const p = new WorkloadProber({ exec: { command: ['x'] }, initialDelaySeconds: 3, periodSeconds: 2, successThreshold: 2, failureThreshold: 3 },
      (h, m) => changes.push(h ? 'healthy' : `unhealthy: ${m}`), { run: async () => results.shift(), ...timers });
    p.start();
    expect(timers.delays).toEqual([3000]);
    for (let i = 0; i < 9; i++) await p.tick();
    expect(changes).toEqual(['unhealthy: down', 'healthy']);
    expect(p.healthy).toBe(true);
  });

  it('defaults: period 10 s, one pass makes it healthy, three failures unhealthy', async () => {
    const results: Array<string | undefined> = [undefined, 'a', 'b', 'c'];
    const timers = manualTimers();
    const changes: boolean[] = [];
    const p = new WorkloadProber({ tcpSocket: { port: 1 } }, (h) => changes.push(h), { run: async () => results.shift(), ...timers });
    p.start();
    timers.fire();
    await new Promise((r) => setImmediate(r));
    expect(changes).toEqual([true]);
    expect(timers.delays).toEqual([0, 10_000]);
    for (let i = 0; i < 3; i++) await p.tick();
    expect(changes).toEqual([true, false]);
    p.stop();
  });
});
