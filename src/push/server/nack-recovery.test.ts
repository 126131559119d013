import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { ProxyConfig } from '../../proxy-config/types.js';
// eslint-disable-next-line no-restricted-imports -- the stream test runs the real proxy-side client against the server
import { ControlClient } from '../../proxy/control-client/client.js';
import { generateProxyConfig } from '../generators/index.js';
import { bookinfoSnapshot, productpageProxy, sampleResources } from '../testdata/bookinfo.js';
import { PushServer, type SnapshotSource } from './server.js';

/** A snapshot source the test moves by hand. */
class Source implements SnapshotSource {
  private fns = new Set<(s: MeshSnapshot) => void>();
  constructor(public snap: MeshSnapshot) {}
  current() { return this.snap; }
  onSnapshot(fn: (s: MeshSnapshot) => void) { this.fns.add(fn); return () => this.fns.delete(fn); }
  set(configs: string[]) {
    this.snap = bookinfoSnapshot(sampleResources(...configs), this.snap);
    for (const f of this.fns) f(this.snap);
  }
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const byName = <T extends { name?: string; cluster?: string }>(l: T[]) => [...l].sort((a, b) => ((a.name ?? a.cluster)! < (b.name ?? b.cluster)! ? -1 : 1));
const strip = (cfg: ProxyConfig) => ({ clusters: byName(cfg.clusters), routes: byName(cfg.routes), listeners: byName(cfg.listeners), secrets: byName(cfg.secrets) });

describe('recovery after a NACK', () => {
  it('a push refused as a whole is resent in whole once the combination changes: the proxy ends on the current config at once', async () => {
    const source = new Source(bookinfoSnapshot(sampleResources('destination-rule-all', 'virtual-service-all-v1')));
    const server = new PushServer({ source, log: () => {}, nackRetryMs: 5000, allowPlaintext: true });
    const addr: AddressInfo = await server.listen(0);
    cleanup.push(() => server.close());
    let refuse = false;
    const applied: ProxyConfig[] = [];
    const c = new ControlClient({
      server: `127.0.0.1:${addr.port}`, node: productpageProxy.node, workload: productpageProxy.workload!,
      apply: async (cfg) => { if (refuse) throw new Error('refused: a listener this push needs cannot bind'); applied.push(cfg); },
      initialBackoffMs: 20, maxBackoffMs: 100, log: () => {},
    });
    c.start();
    cleanup.push(() => c.stop());
    await waitFor(() => applied.length === 1);
    // Version N changes clusters (mTLS) and routes together; the proxy refuses it as a whole.
    refuse = true;
    source.set(['destination-rule-all-mtls', 'virtual-service-reviews-v3']);
    await waitFor(() => server.status()[0]!.nacks >= 1, { what: 'NACK' });
    expect(server.status()[0]!.types.clusters!.state).toBe('NACKED');
    // The fix puts routes back to what the proxy runs; the clusters of N were never judged on their own.
    refuse = false;
    source.set(['destination-rule-all-mtls', 'virtual-service-all-v1']);
    await waitFor(() => applied.length === 2, { timeoutMs: 1000, what: 'the current config applied before the 5 s retry' });
    expect(strip(applied[1]!)).toEqual(strip(generateProxyConfig(source.snap, productpageProxy)));
    await waitFor(() => Object.values(server.status()[0]!.types).every((t) => t.state === 'SYNCED'), { what: 'SYNCED' });
  });
});
