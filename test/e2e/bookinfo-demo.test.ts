// `bowline demo` as a user runs it: bad port, start, a workload dying, Ctrl-C.
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { startBowline } from '../support/process.js';
import { waitFor, waitForOutput } from '../support/wait.js';
import { startDemo, alive, request, built, type Demo } from './bookinfo-harness.js';

let demo: Demo | undefined;
afterEach(async () => { await demo?.interrupt(); demo = undefined; });

describe.skipIf(!built)('bowline demo', () => {
  it('reports a taken port and how to choose another', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const child = startBowline(['demo', '--port', String(port)]);
      expect(await child.exited()).toBe(1);
      expect(child.output()).toContain(`port ${port} is not available`);
      expect(child.output()).toContain('BOWLINE_E_DEMO_PORT_TAKEN');
      expect(child.output()).toMatch(/--port \d+/);
    } finally {
      blocker.close();
    }
  });

  it('--no-mesh: up with progress, a dying workload is reported with its log, Ctrl-C stops all and removes the home', async () => {
    demo = await startDemo(['--no-mesh']);
    const out = demo.child.output();
    expect(out).toMatch(/\u2714 details-v1 \(no sidecar\) \(\d+\.\d+ s\)/);
    expect(out).toContain(`http://localhost:${demo.port}/productpage`);
    const page = await request(`${demo.base}/productpage`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('The Comedy of Errors');

    const reviews = demo.state.processes.find((p) => p.name === 'reviews-v2')!;
    process.kill(reviews.pid, 'SIGKILL');
    await waitFor(() => demo!.child.output().includes('reviews-v2 exited'), { what: 'the death report' });
    // The report's line may reach us in two reads of the pipe: wait for its end too.
    await waitForOutput(demo.child, `its log: ${reviews.log}`, { what: 'the death report names the log' });
    const after = await request(`${demo.base}/productpage`);
    expect(after.status).toBe(200);
    expect(after.text).toContain('Sorry, product reviews are currently unavailable for this book.');
    expect(after.text).toContain('William Shakespeare');

    const pids = demo.state.processes.map((p) => p.pid);
    const home = demo.home;
    expect(await demo.interrupt()).toBe(0);
    demo = undefined;
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(home)).toBe(false);
  });

  it('a second Ctrl-C forces the stop (exit 130) and still removes the home', async () => {
    demo = await startDemo(['--no-mesh']);
    const { child, home, state } = demo;
    // An in-flight /delay/10 keeps httpbin draining (2 s grace), so the first stop is still under way.
    const httpbin = state.processes.find((p) => p.name === 'httpbin-v1')!;
    const url = /listening on (http:\S+)/.exec(readFileSync(httpbin.log, 'utf8'))![1]!;
    const slow = http.get(`${url}/delay/10`, { agent: false });
    slow.on('error', () => {});
    await new Promise((r) => slow.once('finish', r));
    const exited = child.exited();
    child.proc.kill('SIGINT');
    await waitFor(() => child.output().includes('Ctrl-C again to force'), { what: 'the first stop message' });
    child.proc.kill('SIGINT');
    expect(await exited).toBe(130);
    demo = undefined;
    expect(child.output()).toContain('Forced stop.');
    await waitFor(() => state.processes.every((p) => !alive(p.pid)), { what: 'every demo process gone' });
    expect(existsSync(home)).toBe(false);
  });
});
