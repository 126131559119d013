// Fault suite: workload certificate rotation under load (issue 12 item 8). The CA issues 6 s
// certificates (BOWLINE_CA_WORKLOAD_TTL_MS), so each sidecar renews at about half-life (every ~3 s,
// ±10 % jitter) over the push stream; STRICT mTLS between the client's and the server's sidecar;
// a DestinationRule caps requests per upstream connection at 20, so new mTLS handshakes (with the
// newest certificates on both sides) happen all the time. Bound: 0 failed requests at 100 rps
// while each sidecar renews 3 times, with requests sent between every two renewals and 200 more
// after the last one (count-based: the load runs until then, capped at 60 s, so a slow CA or a
// loaded machine lengthens the run instead of failing it; a sidecar that stops renewing still fails
// it). One FIGURE line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settle, TestMesh, type Sidecar } from '../e2e/mesh-harness.js';
import { waitFor } from '../support/wait.js';
import { figure, LoadClient } from './load.js';

const TTL_MS = 6000;
const URL_ = 'http://hello:8000/';
const mesh = new TestMesh();
let server: Sidecar;
let client: Sidecar;
let lc: LoadClient;

const installs = (s: Sidecar) => s.child.output().split('\n').filter((l) => /workload certificate for spiffe:\S+ installed/.test(l)).length;
const upstreamConnections = async () => ((await (await fetch(`http://127.0.0.1:${client.admin}/stats`)).json()) as { upstreamConnectionsTotal: number }).upstreamConnectionsTotal;

beforeAll(async () => {
  process.env.BOWLINE_CA_WORKLOAD_TTL_MS = String(TTL_MS); // inherited by `bowline up`
  await mesh.up();
  server = await mesh.sidecar('hello', 'default', 'hello', 8000);
  client = await mesh.sidecar('sleep', 'default', 'sleep', 9000);
  const applied = await mesh.apply('strict', `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec:
  mtls: {mode: STRICT}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: hello, namespace: default}
spec:
  host: hello
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    connectionPool: {http: {maxRequestsPerConnection: 20}}
`);
  expect(applied.code, applied.out).toBe(0);
  await settle(client.outbound, URL_, 200);
  lc = new LoadClient(client.outbound, URL_);
  await waitFor(async () => /"maxRequestsPerConnection":\s*20/.test(await (await fetch(`http://127.0.0.1:${client.admin}/config_dump`)).text()), { timeoutMs: 20_000, what: 'connection pool limit at the client sidecar' });
}, 90_000);
afterAll(async () => {
  delete process.env.BOWLINE_CA_WORKLOAD_TTL_MS;
  lc?.close();
  await mesh.down();
}, 30_000);

describe('fault: certificate rotation under load', () => {
  it(`${TTL_MS / 1000} s workload certificates renewed under 100 rps over STRICT mTLS: 0 failed requests`, async () => {
    const before = { server: installs(server), client: installs(client), conns: await upstreamConnections() };
    // sentAt.X[k]: requests sent when sidecar X's k+1-th renewal was first seen (checked every 10 requests).
    const sentAt = { server: [] as number[], client: [] as number[] };
    let checkedAt = 0;
    let sentAfterThird: number | undefined;
    const stop = (sent: number): boolean => {
      if (sent - checkedAt < 10) return false;
      checkedAt = sent;
      for (const [side, s] of [['server', server], ['client', client]] as const) for (let k = sentAt[side].length; k < installs(s) - before[side]; k++) sentAt[side].push(sent);
      if (sentAfterThird === undefined && Math.min(sentAt.server.length, sentAt.client.length) >= 3) sentAfterThird = sent;
      return sentAfterThird !== undefined && sent >= sentAfterThird + 200;
    };
    const r = await lc.load(100, 60_000, undefined, undefined, stop);
    const renewed = { server: installs(server) - before.server, client: installs(client) - before.client };
    const handshakes = (await upstreamConnections()) - before.conns;
    console.log(figure(`certificate rotation (${TTL_MS / 1000} s certificates, 100 rps, STRICT mTLS)`, r, `renewals: server sidecar ${renewed.server}, client sidecar ${renewed.client}, seen at requests ${JSON.stringify(sentAt)}; new upstream mTLS connections ${handshakes}`));
    if (r.failed) console.log('client sidecar log:\n' + client.child.output().split('\n').filter((l) => !/workload certificate/.test(l)).slice(-40).join('\n') + '\nserver sidecar log:\n' + server.child.output().split('\n').filter((l) => !/workload certificate/.test(l)).slice(-20).join('\n'));
    expect(r.failed).toBe(0);
    expect(renewed.server).toBeGreaterThanOrEqual(3);
    expect(renewed.client).toBeGreaterThanOrEqual(3);
    // Load ran across every renewal: requests before each sidecar's first, between each two of its renewals, and 200 after both had their third.
    for (const side of ['server', 'client'] as const) {
      const at = sentAt[side];
      for (let k = 0; k < at.length; k++) expect(at[k]!, `requests sent by ${side} renewal ${k + 1} (${JSON.stringify(sentAt)})`).toBeGreaterThan(k === 0 ? 0 : at[k - 1]!);
    }
    expect(r.sent).toBeGreaterThanOrEqual(sentAfterThird! + 200);
    expect(handshakes).toBeGreaterThanOrEqual(20);
  }, 90_000);
});
