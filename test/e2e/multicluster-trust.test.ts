// Shared trust across clusters (issue 16 item 1): two control planes, each with an intermediate from
// one offline root (`bowline ca root|intermediate`, `bowline up --ca-certs-dir`); a sidecar of one
// calls a STRICT sidecar of the other over mTLS and each side verifies the other. A control plane
// under another root is refused at the handshake, until the `cacerts` Secret plugs the shared root
// in without a restart.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, settle } from './mesh-harness.js';
import { ClusterMesh, MESH_STRICT, sharedRoot } from './multicluster-harness.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

const dir = tempDir('bowline-e2e-mc-trust-');
const east = new ClusterMesh();
const west = new ClusterMesh();
const other = new ClusterMesh();
let messengerInbound = 0;

const remote = (port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: messenger-west, namespace: default}
spec:
  hosts: [messenger.west.example]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{name: http, number: 8080, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${port}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: messenger-west, namespace: default}
spec:
  host: messenger.west.example
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
`;

beforeAll(async () => {
  const cacerts = await sharedRoot(dir, ['east', 'west']);
  await Promise.all([east.up(['--ca-certs-dir', cacerts.east!]), west.up(['--ca-certs-dir', cacerts.west!]), other.up()]);
  expect((await west.apply('strict', MESH_STRICT)).code).toBe(0);
  messengerInbound = (await west.sidecar('messenger', 'default', 'messenger', 8080)).inbound;
}, 90_000);

afterAll(async () => {
  await Promise.all([east.down(), west.down(), other.down()]);
});

describe('one root, an intermediate per cluster', () => {
  it("east's greeter calls west's STRICT messenger; messenger's sidecar sees greeter's SPIFFE id", async () => {
    const greeter = await east.sidecar('greeter', 'default', 'greeter', 9080);
    expect((await east.apply('remote', remote(messengerInbound))).code).toBe(0);
    await settle(greeter.outbound, 'http://messenger.west.example:8080/hello', 200);
    const r = await call(greeter.outbound, 'http://messenger.west.example:8080/hello');
    expect(r.body).toBe('messenger saw spiffe://cluster.local/ns/default/sa/greeter');
  }, 60_000);

  it('a control plane under another root is refused at the handshake; the cacerts Secret plugs the shared root in without a restart', async () => {
    const stranger = await other.sidecar('stranger', 'default', 'stranger', 9080);
    expect((await other.apply('remote', remote(messengerInbound))).code).toBe(0);
    await settle(stranger.outbound, 'http://messenger.west.example:8080/hello', 503);
    // What `kubectl create secret generic -n istio-system cacerts --from-file=...` sends to the config API.
    const data = Object.fromEntries(['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'].map((f) => [f, readFileSync(join(dir, 'east', f)).toString('base64')]));
    const res = await fetch(`${other.api}/api/v1/namespaces/istio-system/secrets`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: 'istio-system' }, type: 'Opaque', data }),
    });
    expect(res.status, await res.text()).toBe(201);
    await waitFor(() => other.cp!.output().includes('ca: signing with Secret istio-system/cacerts'), { timeoutMs: 10_000, what: () => `cacerts plugged in:\n${other.cp!.output()}` });
    // A workload started now holds a certificate under the shared root: west accepts it, and it trusts west.
    const joined = await other.sidecar('joined', 'default', 'joined', 9081);
    await settle(joined.outbound, 'http://messenger.west.example:8080/hello', 200);
    expect((await call(joined.outbound, 'http://messenger.west.example:8080/hello')).body).toBe('messenger saw spiffe://cluster.local/ns/default/sa/joined');
  }, 60_000);
});
