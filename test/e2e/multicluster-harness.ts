// Several Bowline control planes on one machine, each a "cluster" of the test: a shared root from
// `bowline ca root`, per-cluster intermediates from `bowline ca intermediate`, apps that answer with
// the client identity their sidecar saw (the x-forwarded-client-cert URI), and calls through sidecars.
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readPortsFile } from '../../src/cli/ports-file.js';
import { runBowline, startBowline, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
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

  private readonly gateways: Child[] = [];

  /**
   * An east-west gateway (istio-system/istio-eastwestgateway, labels istio=eastwestgateway and the
   * network) with its 15443 bound on a kernel port; resolves with that port and the process.
   */
  async eastWestGateway(network: string, extra: string[] = []): Promise<{ port: number; child: Child }> {
    const t = await this.cli(['token', 'create', '--namespace', 'istio-system', '--service-account', 'istio-eastwestgateway', '--ttl', '10m']);
    if (t.code !== 0) throw new Error(t.out);
    const tokenFile = join(this.home, 'eastwest.token');
    writeFileSync(tokenFile, t.out.split('\n').find((l) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(l.trim()))!.trim() + '\n');
    const portsFile = join(this.home, 'eastwest.ports.json');
    const pushTls = (JSON.parse(readFileSync(join(this.home, 'cp.ports.json'), 'utf8')) as { pushTls: number }).pushTls;
    const c = startBowline(['proxy', '--gateway', '--server', `127.0.0.1:${pushTls}`, '--token-file', tokenFile, '--name', 'istio-eastwestgateway', '--namespace', 'istio-system',
      '--labels', `istio=eastwestgateway,topology.istio.io/network=${network}`, '--bind-port', '15443=0', '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off', '--ports-file', portsFile, ...extra]);
    this.gateways.push(c);
    const port = await waitFor(() => (readPortsFile(portsFile, ['admin']) as unknown as { listeners?: Record<string, number> } | undefined)?.listeners?.['gateway|15443'], { timeoutMs: 20_000, what: () => `east-west gateway listener:\n${c.output()}` });
    return { port: port!, child: c };
  }

  /** Stops the control plane, proxies and apps. */
  override async down(): Promise<void> {
    for (const g of this.gateways) await g.stop();
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

/** PeerAuthentication istio-system/default: STRICT mutual TLS mesh-wide, as YAML. */
export const MESH_STRICT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
`;

/**
 * The seed's hand-written \`.global\` ServiceEntry for messenger, as Istio's multicluster guide wrote it
 * (MESH_INTERNAL, resolution DNS, address 127.127.42.69), its one endpoint the remote cluster's east-west
 * gateway at `address`:`port` (15443 in a cluster).
 */
export const seedGlobalServiceEntry = (address: string, port: number) => `apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata:
  name: messenger-default
spec:
  hosts:
  # must be of form name.namespace.global
  - messenger.default.global
  location: MESH_INTERNAL
  ports:
  - name: http1
    number: 8080
    protocol: http
  resolution: DNS
  addresses:
  - 127.127.42.69
  endpoints:
  - address: ${address}
    ports:
      http1: ${port}
`;
