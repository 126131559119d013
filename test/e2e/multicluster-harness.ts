// Several Bowline control planes on one machine, each a "cluster" of the test: a shared root from
// `bowline ca root`, per-cluster intermediates from `bowline ca intermediate`, apps that answer with
// the client identity their sidecar saw (the x-forwarded-client-cert URI), and calls through sidecars.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runBowline } from '../support/process.js';
import { TestMesh } from './mesh-harness.js';

/** A TestMesh whose apps answer `NAME saw PEER` (PEER: the SPIFFE id in x-forwarded-client-cert, or `-`). */
export class ClusterMesh extends TestMesh {
  private readonly apps: http.Server[] = [];

  /** An app on a kernel-chosen port naming itself and the caller's identity. */
  override async app(name: string): Promise<number> {
    const s = http.createServer((req, res) => {
      const xfcc = String(req.headers['x-forwarded-client-cert'] ?? '');
      const peer = /URI=([^;,]+)/.exec(xfcc)?.[1] ?? '-';
      res.end(`${name} saw ${peer}`);
    });
    this.apps.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  }

  /** Stops the control plane, proxies and apps. */
  override async down(): Promise<void> {
    await super.down();
    for (const s of this.apps) s.close();
  }
}

/** `bowline ca root` into DIR/root, then one intermediate per cluster into DIR/NAME; returns each cluster's cacerts dir. */
export async function sharedRoot(dir: string, clusters: string[]): Promise<Record<string, string>> {
  const root = await runBowline(['ca', 'root', '-o', join(dir, 'root')]);
  if (root.code !== 0) throw new Error(root.out + root.err);
  const out: Record<string, string> = {};
  for (const c of clusters) {
    const r = await runBowline(['ca', 'intermediate', '--root', join(dir, 'root'), '--cluster', c, '-o', join(dir, c)]);
    if (r.code !== 0) throw new Error(r.out + r.err);
    out[c] = join(dir, c);
  }
  return out;
}
