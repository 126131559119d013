/**
 * The shared registry suite: what every Registry (universal, ServiceEntry, manual, Marathon,
 * Kubernetes ...) must do, run against each through a small fixture that publishes services in
 * that registry's own source. As every store passes store.suite.ts, every registry passes this.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Registry, RegistryView } from './registry.js';

/** How the suite drives one registry's source. */
export interface RegistryFixture {
  /** The registry, not started yet. */
  registry: Registry;
  /**
   * Makes (or replaces) service `name` in namespace `ns` with one HTTP service port 80 whose
   * endpoints are `addresses`; resolves with the service's host name once the source holds it.
   */
  publish(ns: string, name: string, addresses: string[]): Promise<string>;
  /** Removes the service and its endpoints from the source. */
  unpublish(ns: string, name: string): Promise<void>;
  /** Frees whatever the fixture started (the suite stops the registry itself). */
  close(): Promise<void>;
}

/** Polls `check` (real time: registries follow real sources) until it holds or `timeoutMs` passes. */
async function until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const addressesOf = (v: RegistryView, host: string) => v.endpoints.filter((e) => e.service === host && e.servicePort === 80).map((e) => e.address).sort();

/** Runs the suite against registries made by `setup` (one per test). */
export function registrySuite(label: string, setup: () => Promise<RegistryFixture>, opts: { timeoutMs?: number } = {}): void {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const open: RegistryFixture[] = [];
  const make = async () => {
    const f = await setup();
    open.push(f);
    return f;
  };
  afterEach(async () => {
    for (const f of open.splice(0)) {
      await f.registry.stop();
      await f.close();
    }
  });

  describe(`registry suite: ${label}`, () => {
    it('start() resolves with what the source already holds', async () => {
      const f = await make();
      const host = await f.publish('suite-a', 'early', ['10.250.0.1', '10.250.0.2']);
      await f.registry.start();
      const v = f.registry.view();
      expect(v.services.filter((s) => s.hostname === host)).toHaveLength(1);
      expect(v.services.find((s) => s.hostname === host)!.ports).toEqual([expect.objectContaining({ port: 80, protocol: 'HTTP' })]);
      expect(addressesOf(v, host)).toEqual(['10.250.0.1', '10.250.0.2']);
    });

    it('follows additions, scaling and removal, and tells its listeners', async () => {
      const f = await make();
      await f.registry.start();
      let calls = 0;
      f.registry.onChange(() => { calls++; });
      const host = await f.publish('suite-b', 'web', ['10.250.1.1']);
      await until(() => addressesOf(f.registry.view(), host).length === 1, 'the new service', timeoutMs);
      expect(calls).toBeGreaterThan(0);
      await f.publish('suite-b', 'web', ['10.250.1.1', '10.250.1.2', '10.250.1.3']);
      await until(() => addressesOf(f.registry.view(), host).length === 3, 'three endpoints', timeoutMs);
      expect(addressesOf(f.registry.view(), host)).toEqual(['10.250.1.1', '10.250.1.2', '10.250.1.3']);
      await f.unpublish('suite-b', 'web');
      await until(() => !f.registry.view().services.some((s) => s.hostname === host) && addressesOf(f.registry.view(), host).length === 0, 'the service gone', timeoutMs);
    });

    it('hands out copies: a caller changing a view changes nothing', async () => {
      const f = await make();
      const host = await f.publish('suite-c', 'copy', ['10.250.2.1']);
      await f.registry.start();
      const v = f.registry.view();
      v.services.length = 0;
      v.endpoints.length = 0;
      v.workloads.length = 0;
      expect(addressesOf(f.registry.view(), host)).toEqual(['10.250.2.1']);
    });

    it('every endpoint belongs to a port of a service in the same view; workload ids are unique', async () => {
      const f = await make();
      await f.publish('suite-d', 'one', ['10.250.3.1']);
      await f.publish('suite-d', 'two', ['10.250.3.2', '10.250.3.3']);
      await f.registry.start();
      const v = f.registry.view();
      for (const e of v.endpoints) {
        const svc = v.services.find((s) => s.hostname === e.service);
        expect(svc, `service of endpoint ${e.address}`).toBeDefined();
        expect(svc!.ports.map((p) => p.port)).toContain(e.servicePort);
      }
      expect(new Set(v.workloads.map((w) => w.id)).size).toBe(v.workloads.length);
    });

    it('an unsubscribed listener hears nothing more, while the others do', async () => {
      const f = await make();
      await f.registry.start();
      let calls = 0;
      const off = f.registry.onChange(() => { calls++; });
      off();
      let watcher = 0;
      f.registry.onChange(() => { watcher++; });
      const host = await f.publish('suite-e', 'quiet', ['10.250.4.1']);
      await until(() => addressesOf(f.registry.view(), host).length === 1, 'the service', timeoutMs);
      expect(calls).toBe(0);
      expect(watcher).toBeGreaterThan(0);
    });
  });
}
