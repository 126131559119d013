import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeMarathon } from '../../../test/support/marathon.js';
import { waitFor } from '../../../test/support/wait.js';
import { MarathonRegistry, staleIds } from './marathon.js';
import type { MarathonApp, MarathonTask } from './types.js';
import { tempDir } from '../../../test/support/temp.js';

const running = (id: string, port: number): MarathonTask => ({ id, appId: '/bookinfo/reviews', host: '127.0.0.1', ports: [port], state: 'TASK_RUNNING' });
const reviews = (tasks: MarathonTask[]): MarathonApp => ({ id: '/bookinfo/reviews', instances: tasks.length, labels: { istio: 'reviews', version: 'v1' }, portDefinitions: [{ port: 9080, name: 'http' }], tasks });

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

async function setup(opts: { token?: string; tokenFile?: string } = {}) {
  const m = await new FakeMarathon().start();
  if (opts.token) m.token = opts.token;
  stops.push(() => m.stop());
  const logs: string[] = [];
  // Backoff is short here so a dropped stream comes back quickly; the sleep is the real timer (no fixed waits in the test).
  const reg = new MarathonRegistry({ url: m.url, ...(opts.tokenFile ? { tokenFile: opts.tokenFile } : {}), log: (l, line) => logs.push(`${l}: ${line}`), backoffMs: { min: 20, max: 100 } });
  stops.push(() => reg.stop());
  return { m, reg, logs };
}

const ports = (reg: MarathonRegistry) => reg.view().endpoints.map((e) => e.port).sort((a, b) => a - b);

describe('MarathonRegistry against a stand-in Marathon', () => {
  it('reads apps with their tasks and follows scaling from events that arrive out of order and twice', async () => {
    const { m, reg } = await setup();
    m.apps.set('/bookinfo/reviews', reviews([running('r.1', 31001)]));
    await reg.start();
    expect(ports(reg)).toEqual([31001]);
    await waitFor(() => m.streamCount === 1, { what: 'event stream attached' });

    // Scale 1 -> 3: Marathon changes its state, then sends events in no particular order (and repeats one).
    const t2 = running('r.2', 31002); const t3 = running('r.3', 31003);
    m.apps.set('/bookinfo/reviews', reviews([running('r.1', 31001), t2, t3]));
    m.emit(m.statusUpdate('/bookinfo/reviews', t3, 'TASK_RUNNING'));
    m.emit({ eventType: 'deployment_success', id: 'd1', plan: { target: { apps: [{ id: '/bookinfo/reviews' }] } } });
    m.emit(m.statusUpdate('/bookinfo/reviews', t2, 'TASK_RUNNING'));
    m.emit(m.statusUpdate('/bookinfo/reviews', t3, 'TASK_RUNNING'));
    await waitFor(() => ports(reg).length === 3, { what: '3 endpoints' });
    expect(ports(reg)).toEqual([31001, 31002, 31003]);

    // A killed task: gone from Marathon's answer, and its event invalidates the app.
    m.apps.set('/bookinfo/reviews', reviews([running('r.1', 31001), t3]));
    m.emit(m.statusUpdate('/bookinfo/reviews', t2, 'TASK_KILLED'));
    await waitFor(() => ports(reg).length === 2, { what: 'killed task removed' });
    expect(ports(reg)).toEqual([31001, 31003]);
    expect(m.requests).toContain('GET /v2/apps/bookinfo/reviews?embed=app.tasks');

    // A destroyed app.
    m.apps.delete('/bookinfo/reviews');
    m.emit({ eventType: 'app_terminated_event', appId: '/bookinfo/reviews' });
    await waitFor(() => reg.view().services.length === 0, { what: 'app removed' });
  });

  it('reconnects a dropped stream and catches up with a full read', async () => {
    const { m, reg } = await setup();
    m.apps.set('/bookinfo/reviews', reviews([running('r.1', 31001)]));
    await reg.start();
    await waitFor(() => m.streamCount === 1, { what: 'stream' });
    m.dropStreams();
    // Changed while no stream was open: no event will ever say so.
    m.apps.set('/bookinfo/reviews', reviews([running('r.1', 31001), running('r.9', 31009)]));
    await waitFor(() => ports(reg).length === 2, { what: 'catch-up after reconnect' });
    // The full read may finish before the new stream is attached: wait for exactly one stream.
    await waitFor(() => m.streamCount === 1, { what: 'one reopened stream' });
  });

  it('keeps the last endpoints while Marathon answers 503, reports it, and recovers', async () => {
    const { m, reg, logs } = await setup();
    m.apps.set('/bookinfo/reviews', reviews([running('r.1', 31001)]));
    await reg.start();
    await waitFor(() => m.streamCount === 1, { what: 'stream' });
    m.failWith(503);
    // The cut stream is reported first; the reconnect then meets the 503.
    await waitFor(() => reg.status().healthy === false && reg.status().error?.includes('503'), { what: 'unhealthy status naming the 503' });
    expect(ports(reg)).toEqual([31001]);
    expect(logs.some((l) => l.startsWith('warn:') && l.includes('keeping the last known endpoints (1)'))).toBe(true);
    m.apps.set('/bookinfo/reviews', reviews([running('r.2', 31002)]));
    m.failWith(undefined);
    await waitFor(() => reg.status().healthy && ports(reg)[0] === 31002, { what: 'recovery' });
  });

  it('authenticates with a DC/OS token file and re-reads it when it changes', async () => {
    const dir = tempDir('bowline-marathon-');
    const file = join(dir, 'token');
    writeFileSync(file, 'wrong\n');
    const { m, reg } = await setup({ token: 'secret-1', tokenFile: file });
    m.apps.set('/bookinfo/reviews', reviews([running('r.1', 31001)]));
    await reg.start();
    expect(reg.status()).toMatchObject({ healthy: false, error: expect.stringContaining('401') });
    expect(ports(reg)).toEqual([]);
    writeFileSync(file, 'secret-1\n');
    await waitFor(() => ports(reg).length === 1, { what: 'read with the new token' });
    expect(reg.status().healthy).toBe(true);
  });

  it('starts (reporting the error) when Marathon is unreachable', async () => {
    const m = await new FakeMarathon().start();
    const url = m.url;
    await m.stop();
    const reg = new MarathonRegistry({ url, backoffMs: { min: 20, max: 50 } });
    stops.push(() => reg.stop());
    await reg.start();
    expect(reg.status()).toMatchObject({ healthy: false, error: expect.stringContaining('ECONNREFUSED') });
    expect(reg.view().endpoints).toEqual([]);
  });

  it('reads pods and follows instance events', async () => {
    const { m, reg } = await setup();
    const pod = (n: number) => ({
      id: '/bookinfo/ratings',
      spec: { id: '/bookinfo/ratings', labels: { istio: 'ratings' }, containers: [{ name: 'app', endpoints: [{ name: 'http', containerPort: 9080, hostPort: 0 }] }] },
      instances: Array.from({ length: n }, (_, i) => ({ id: `i${i}`, status: 'STABLE', agentHostname: '127.0.0.1', containers: [{ name: 'app', endpoints: [{ name: 'http', allocatedHostPort: 32000 + i }] }] })),
    });
    m.pods.set('/bookinfo/ratings', pod(1));
    await reg.start();
    expect(ports(reg)).toEqual([32000]);
    await waitFor(() => m.streamCount === 1, { what: 'stream' });
    m.pods.set('/bookinfo/ratings', pod(2));
    m.emit({ eventType: 'instance_changed_event', instanceId: 'i1', runSpecId: '/bookinfo/ratings', condition: 'Running' });
    await waitFor(() => ports(reg).length === 2, { what: 'second instance' });
    expect(m.requests).toContain('GET /v2/pods/bookinfo/ratings::status');
  });
});

describe('staleIds', () => {
  it('names what each documented event invalidates', () => {
    expect(staleIds({ eventType: 'status_update_event', appId: '/a' }).apps).toEqual(['/a']);
    expect(staleIds({ eventType: 'health_status_changed_event', appId: '/a', alive: false }).apps).toEqual(['/a']);
    expect(staleIds({ eventType: 'instance_changed_event', runSpecId: '/p' }).either).toEqual(['/p']);
    expect(staleIds({ eventType: 'deployment_info', plan: { original: { apps: [{ id: '/a' }] }, target: { pods: [{ id: '/p' }] } } })).toMatchObject({ apps: ['/a'], pods: ['/p'] });
    expect(staleIds({ eventType: 'group_change_success' }).all).toBe(true);
    expect(staleIds({ eventType: 'event_stream_attached' })).toEqual({ apps: [], pods: [], either: [], all: false });
  });
});
