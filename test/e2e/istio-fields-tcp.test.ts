// VirtualService `tcp` rules proven end to end: Istio YAML -> the control plane's generators -> a
// real Bowline sidecar -> which TCP workload a connection reaches. The app opens the connection
// as an HTTP_PROXY client does for a non-HTTP protocol: `CONNECT db:5432` to the outbound listener,
// which routes the tunnel by the TCP rules of that port.
import { connect, createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Sidecar, type Instance, type Workload } from './fields-harness.js';
import { versionSubsets, virtualService } from '../support/subsets-yaml.js';

/** A TCP workload: writes its name and closes. */
async function tcpWorkload(name: string): Promise<Workload> {
  const server: Server = createServer((sock) => sock.end(name));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { name, port: (server.address() as { port: number }).port, server: server as never, status: 200, seen: [], hold: false, held: [], release() {} };
}

let v1: Workload;
let v2: Workload;
let mesh: Instance[];
const sidecars: Sidecar[] = [];

beforeAll(async () => {
  v1 = await tcpWorkload('db-v1');
  v2 = await tcpWorkload('db-v2');
  mesh = [{ w: v1, service: 'db', port: 5432, protocol: 'TCP', labels: { version: 'v1' } }, { w: v2, service: 'db', port: 5432, protocol: 'TCP', labels: { version: 'v2' } }];
});

afterEach(async () => {
  for (const s of sidecars.splice(0)) await s.close();
});

afterAll(async () => {
  for (const w of [v1, v2]) await new Promise((r) => (w.server as unknown as Server).close(r));
});

/** What a tunnel through the sidecar to `target` reads: the workload's name, or `refused`. */
function tunnel(port: number, target: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let buf = '';
    sock.setTimeout(5000, () => sock.destroy());
    sock.on('connect', () => sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
    sock.on('data', (d) => { buf += d.toString('latin1'); });
    sock.on('error', () => {});
    sock.on('close', () => {
      const at = buf.indexOf('\r\n\r\n');
      resolve(/^HTTP\/1\.1 200/.test(buf) && at >= 0 && buf.length > at + 4 ? buf.slice(at + 4) : 'refused');
    });
  });
}

async function reached(s: Sidecar, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await tunnel(s.port, 'db.default.svc.cluster.local:5432'));
  return out;
}

async function sidecar(tcp: string): Promise<Sidecar> {
  const s = new Sidecar();
  sidecars.push(s);
  await s.start(mesh, `${versionSubsets('db')}---\n${virtualService('db', 'tcp', tcp)}`);
  return s;
}

describe('VirtualService tcp rules', () => {
  it('match port, sourceLabels, sourceNamespace and gateways pick the rule; route destination host, subset, port and weight pick the workload', async () => {
    const s = await sidecar(`  - match: [{port: 5432, sourceLabels: {app: productpage}}]
    route: [{destination: {host: db, subset: v1}}]
  - match: [{port: 5432, sourceNamespace: shop}]
    route: [{destination: {host: db, subset: v1}}]
  - match: [{port: 5432, gateways: [edge]}]
    route: [{destination: {host: db, subset: v1}}]
  - match: [{port: 5433}]
    route: [{destination: {host: db, subset: v1}}]
  - match: [{port: 5432, sourceLabels: {app: sleep}, sourceNamespace: default, gateways: [mesh]}]
    route:
    - {destination: {host: db, subset: v1, port: {number: 5432}}, weight: 0}
    - {destination: {host: db, subset: v2, port: {number: 5432}}, weight: 100}
`);
    expect(new Set(await reached(s, 6))).toEqual(new Set(['db-v2']));
    const split = await sidecar(`  - route:
    - {destination: {host: db, subset: v1}, weight: 50}
    - {destination: {host: db, subset: v2}, weight: 50}
`);
    expect(new Set(await reached(split, 12))).toEqual(new Set(['db-v1', 'db-v2']));
  });
});
