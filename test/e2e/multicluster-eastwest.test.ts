// East-west gateway (issue 16 items 3 and 5): cluster-2's gateway serves Istio's expose-services
// Gateway (15443, TLS, AUTO_PASSTHROUGH, *.local) and passes cluster-1's mTLS, still encrypted, to
// the local service its SNI names; the seed's hand-written `.global` ServiceEntry (MESH_INTERNAL,
// resolution DNS, address 127.127.42.69, endpoint = the remote gateway) works as written; an SNI the
// gateway does not know is refused at the handshake.
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/process.js';
import { call, settle, type Sidecar } from './mesh-harness.js';
import { ClusterMesh, MESH_STRICT, seedGlobalServiceEntry, sharedRoot } from './multicluster-harness.js';
import { tempDir } from '../support/temp.js';

const dir = tempDir('bowline-e2e-mc-ew-');
const one = new ClusterMesh();
const two = new ClusterMesh();
let gatewayPort = 0;
let greeter: Sidecar;


beforeAll(async () => {
  const cacerts = await sharedRoot(dir, ['cluster-1', 'cluster-2']);
  await Promise.all([
    one.up(['--ca-certs-dir', cacerts['cluster-1']!, '--cluster', 'cluster-1', '--network', 'network-1', '--mesh-id', 'mesh1']),
    two.up(['--ca-certs-dir', cacerts['cluster-2']!, '--cluster', 'cluster-2', '--network', 'network-2', '--mesh-id', 'mesh1']),
  ]);
  expect((await two.apply('strict', MESH_STRICT)).code).toBe(0);
  for (const f of ['expose-services', 'expose-global']) {
    const r = await two.cli(['apply', '-f', join(repoRoot, 'samples/multicluster', `${f}.yaml`)]);
    expect(r.code, r.out).toBe(0);
  }
  await two.sidecar('messenger', 'default', 'messenger', 8080);
  gatewayPort = (await two.eastWestGateway('network-2')).port;
  greeter = await one.sidecar('greeter', 'default', 'greeter', 9080);
}, 90_000);

afterAll(async () => {
  await Promise.all([one.down(), two.down()]);
});

describe('topology', () => {
  it("endpoints carry the control plane's cluster and network (/debug/registryz)", async () => {
    const r = await fetch(`${two.api}/debug/registryz`);
    const body = (await r.json()) as { endpoints: Record<string, Array<{ cluster?: string; network?: string; workload: string }>> };
    expect(body.endpoints['messenger.default.svc.cluster.local']).toEqual([expect.objectContaining({ workload: 'messenger', cluster: 'cluster-2', network: 'network-2' })]);
  });
});

describe('east-west gateway, AUTO_PASSTHROUGH', () => {
  it("the seed's .global ServiceEntry works as written: mTLS end to end through the remote gateway", async () => {
    // The remote gateway's 15443 is a kernel-chosen port here.
    const r = await one.apply('global', seedGlobalServiceEntry('127.0.0.1', gatewayPort));
    expect(r.code, r.out).toBe(0);
    await settle(greeter.outbound, 'http://messenger.default.global:8080/postcard', 200);
    expect((await call(greeter.outbound, 'http://messenger.default.global:8080/postcard')).body).toBe('messenger saw spiffe://cluster.local/ns/default/sa/greeter');
  }, 60_000);

  it('*.local: the SNI outbound_.8080_._.messenger.default.svc.cluster.local reaches the local messenger', async () => {
    const se = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: messenger-remote, namespace: default}
spec:
  hosts: [messenger.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{name: http, number: 8080, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${gatewayPort}}, labels: {security.istio.io/tlsMode: istio}}]
`;
    // The endpoint is the remote gateway itself, reachable from here: it names no network (an endpoint on
    // network-2 would be reached through network-2's gateway, which cluster-1 learns only from bowline cluster add).
    const r = await one.apply('local', se);
    expect(r.code, r.out).toBe(0);
    await settle(greeter.outbound, 'http://messenger.default.svc.cluster.local:8080/hi', 200);
    expect((await call(greeter.outbound, 'http://messenger.default.svc.cluster.local:8080/hi')).body).toBe('messenger saw spiffe://cluster.local/ns/default/sa/greeter');
  }, 60_000);

  it('an SNI the gateway does not know is refused at the handshake, never forwarded in plaintext', async () => {
    const root = readFileSync(join(dir, 'root', 'root-cert.pem'), 'utf8');
    const handshake = (servername: string | undefined) => new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: gatewayPort, ca: root, rejectUnauthorized: false, ...(servername ? { servername } : {}) });
      s.once('secureConnect', () => { s.destroy(); resolve('connected'); });
      s.once('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
      s.once('close', () => resolve('closed'));
    });
    expect(await handshake('outbound_.8080_._.nosuch.default.svc.cluster.local')).toMatch(/UNRECOGNIZED_NAME/);
    expect(await handshake('outbound_.9999_._.messenger.default.svc.cluster.local')).toMatch(/UNRECOGNIZED_NAME/);
    expect(await handshake('messenger.example.com')).toMatch(/ECONNRESET|closed|EPIPE/);
    expect(await handshake(undefined)).toMatch(/ECONNRESET|closed|EPIPE/);
  }, 30_000);
});
