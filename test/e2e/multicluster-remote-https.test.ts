// An HTTPS remote (issue 16 item 4): cluster-2's control plane serves its API over HTTPS only
// (`bowline up --api-tls`, a serving certificate from its CA). `bowline cluster add cluster-2
// --server https://... --token FILE` without the CA is not trusted: added with the warning, and
// `cluster list` shows the certificate error while nothing of it is used; with `--ca-file` (the
// remote's HOME/api-ca.pem) it syncs, and greeter reaches cluster-2's messenger through its
// east-west gateway, mTLS end to end.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPortsFile } from '../../src/cli/ports-file.js';
import { repoRoot, runBowline } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { call, settle, type Sidecar } from './mesh-harness.js';
import { ClusterMesh, sharedRoot } from './multicluster-harness.js';
import { tempDir } from '../support/temp.js';

const dir = tempDir('bowline-e2e-mc-https-');
const one = new ClusterMesh();
const two = new ClusterMesh();
let greeter: Sidecar;
let remoteApi = '';
let tokenFile = '';
const url = 'http://messenger.default.svc.cluster.local:8080/hello';

/** `bowline cluster ARGS` against cluster-1 (its API in BOWLINE_SERVER: --server names the remote). */
const cluster = (args: string[]) => runBowline(['cluster', ...args], { env: { BOWLINE_HOME: one.home, BOWLINE_SERVER: one.api } });
const listLine = async () => (await cluster(['list'])).out.split('\n').find((l) => l.startsWith('cluster-2')) ?? '';

beforeAll(async () => {
  const cacerts = await sharedRoot(dir, ['cluster-1', 'cluster-2']);
  await Promise.all([
    one.up(['--ca-certs-dir', cacerts['cluster-1']!, '--cluster', 'cluster-1', '--network', 'network-1']),
    two.up(['--ca-certs-dir', cacerts['cluster-2']!, '--cluster', 'cluster-2', '--network', 'network-2', '--api-tls']),
  ]);
  // The harness wrote http://; cluster-2's API answers HTTPS only (its CLI trusts HOME/api-ca.pem).
  remoteApi = `https://127.0.0.1:${readPortsFile(join(two.home, 'cp.ports.json'), ['api'])!.api}`;
  two.api = remoteApi;
  const r = await two.cli(['apply', '-f', join(repoRoot, 'samples/multicluster/expose-services.yaml')]);
  expect(r.code, r.out).toBe(0);
  await two.sidecar('messenger', 'default', 'messenger', 8080);
  await two.eastWestGateway('network-2');
  greeter = await one.sidecar('greeter', 'default', 'greeter', 9080);
  const t = await two.cli(['api-token', 'create', '--scope', 'registry-read', 'cluster-1']);
  expect(t.code, t.out).toBe(0);
  tokenFile = join(dir, 'cluster-2.token');
  writeFileSync(tokenFile, t.out.split('\n').find((l) => l.startsWith('bat_'))!.trim() + '\n');
}, 90_000);

afterAll(async () => {
  await Promise.all([one.down(), two.down()]);
});

describe('bowline cluster add --server https://... --ca-file: a remote control plane with a TLS API', () => {
  it('without the remote\'s CA: added with a warning, cluster list shows the certificate error, nothing of it is used', async () => {
    expect(remoteApi).toMatch(/^https:/);
    const add = await cluster(['add', 'cluster-2', '--server', remoteApi, '--token', tokenFile]);
    expect(add.code, add.out + add.err).toBe(0);
    expect(add.err).toContain('BOWLINE_W_CLUSTER_UNREACHABLE');
    expect(add.err).toMatch(/certificate/i);
    await waitFor(async () => /cluster-2\s+bowline\s+https:\S+\s+(pending|unreachable)\s+0\s+0\s+.*certificate/i.test(await listLine()), { timeoutMs: 20_000, what: `cluster-2 listed with its TLS error: ${await listLine()}` });
    expect((await call(greeter.outbound, url)).status).not.toBe(200);
  }, 60_000);

  it("with --ca-file: synced, and greeter reaches cluster-2's messenger through its east-west gateway, mTLS end to end", async () => {
    const add = await cluster(['add', 'cluster-2', '--server', remoteApi, '--token', tokenFile, '--ca-file', join(two.home, 'api-ca.pem')]);
    expect(add.code, add.out + add.err).toBe(0);
    expect(add.err).toContain('answers as cluster cluster-2 on network network-2');
    await waitFor(async () => /cluster-2\s+bowline\s+https:\S+\s+synced\s+1\s+1/.test(await listLine()), { timeoutMs: 30_000, what: `cluster-2 synced: ${await listLine()}` });
    await settle(greeter.outbound, url, 200);
    expect((await call(greeter.outbound, url)).body).toBe('messenger saw spiffe://cluster.local/ns/default/sa/greeter');
  }, 60_000);
});
