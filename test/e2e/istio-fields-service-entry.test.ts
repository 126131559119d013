// ServiceEntry and WorkloadEntry proven end to end: Istio YAML -> the ServiceEntry registry and the
// control plane's generators -> a real Bowline sidecar on real sockets -> which workload answers.
// STATIC endpoints (address, ports, labels, weight, locality), targetPort, workloadSelector over
// WorkloadEntries, exportTo, resolution NONE with addresses. src/api/enforcement.ts points here.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultMeshConfig } from '../../src/api/index.js';
import { send, Sidecar, sleepAt, stopWorkloads, workload, type Workload } from './fields-harness.js';

let v1: Workload;
let v2: Workload;
const sidecars: Sidecar[] = [];
const registryOnly = { ...defaultMeshConfig(), outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' as const } };

beforeAll(async () => {
  v1 = await workload('orders-v1');
  v2 = await workload('orders-v2');
});

afterEach(async () => {
  for (const s of sidecars.splice(0)) await s.close();
  for (const w of [v1, v2]) w.seen.length = 0;
});

afterAll(async () => {
  await stopWorkloads([v1, v2]);
});

async function sidecar(yaml: string, opts: Parameters<Sidecar['start']>[2] = {}): Promise<Sidecar> {
  const s = new Sidecar();
  sidecars.push(s);
  await s.start([], yaml, { mesh: registryOnly, ...opts });
  return s;
}

async function answers(s: Sidecar, url: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await send(s.port, url);
    out.push(r.status === 200 ? r.json.name : String(r.status));
  }
  return out;
}

const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;

const ROUND_ROBIN = (host: string, subsets = '') => `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: rr, namespace: default}
spec:
  host: ${host}
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
${subsets}`;

describe('ServiceEntry', () => {
  it('STATIC: hosts, ports (number, name, protocol, targetPort) and endpoints (address, ports, labels, weight) route to the listed endpoints', async () => {
    const s = await sidecar(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: orders, namespace: default}
spec:
  hosts: [orders.example.test]
  ports: [{number: 80, name: web, protocol: HTTP, targetPort: ${v2.port}}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {web: ${v1.port}}, labels: {version: v1}, weight: 3}
  - {address: 127.0.0.1, labels: {version: v2}, weight: 1}
${ROUND_ROBIN('orders.example.test', '  subsets:\n  - {name: v2, labels: {version: v2}}\n')}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: orders, namespace: default}
spec:
  hosts: [orders.example.test]
  http:
  - match: [{uri: {prefix: /v2}}]
    route: [{destination: {host: orders.example.test, subset: v2}}]
  - route: [{destination: {host: orders.example.test}}]
`);
    const got = await answers(s, 'http://orders.example.test/', 8);
    expect([count(got, 'orders-v1'), count(got, 'orders-v2')], got.join(',')).toEqual([6, 2]);
    expect(new Set(await answers(s, 'http://orders.example.test/v2', 4))).toEqual(new Set(['orders-v2']));
    expect((await send(s.port, 'http://other.example.test/')).status).toBe(502);
  });

  it('workloadSelector: the WorkloadEntries it selects (address, ports, labels, weight) are the endpoints', async () => {
    const s = await sidecar(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: orders, namespace: default}
spec:
  hosts: [orders.vm.test]
  ports: [{number: 80, name: web, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: orders}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: default}
spec: {address: 127.0.0.1, ports: {web: ${v1.port}}, labels: {app: orders, version: v1}, weight: 1, serviceAccount: orders}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-2, namespace: default}
spec: {address: 127.0.0.1, ports: {web: ${v2.port}}, labels: {app: orders, version: v2}, weight: 3, serviceAccount: orders}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: not-selected, namespace: default}
spec: {address: 127.0.0.2, ports: {web: 1}, labels: {app: billing}}
${ROUND_ROBIN('orders.vm.test')}`);
    const got = await answers(s, 'http://orders.vm.test/', 8);
    expect([count(got, 'orders-v1'), count(got, 'orders-v2')], got.join(',')).toEqual([2, 6]);
  });

  it('endpoint and WorkloadEntry locality: localityLbSetting distribute sends a proxy\'s traffic by the endpoints\' localities', async () => {
    const dr = (name: string, host: string) => `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: default}
spec:
  host: ${host}
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        distribute:
        - {from: eu/west/*, to: {"us/east/*": 100}}
`;
    const s = await sidecar(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: orders, namespace: default}
spec:
  hosts: [orders.example.test]
  ports: [{number: 80, name: web, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {web: ${v1.port}}, locality: eu/west/a}
  - {address: 127.0.0.1, ports: {web: ${v2.port}}, locality: us/east/b}
${dr('orders', 'orders.example.test')}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: orders-vm, namespace: default}
spec:
  hosts: [orders.vm.test]
  ports: [{number: 80, name: web, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: orders}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: default}
spec: {address: 127.0.0.1, ports: {web: ${v1.port}}, labels: {app: orders}, locality: eu/west/a}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-2, namespace: default}
spec: {address: 127.0.0.1, ports: {web: ${v2.port}}, labels: {app: orders}, locality: us/east/b}
${dr('orders-vm', 'orders.vm.test')}`, { proxy: sleepAt('eu/west/a') });
    expect(new Set(await answers(s, 'http://orders.example.test/', 6))).toEqual(new Set(['orders-v2']));
    expect(new Set(await answers(s, 'http://orders.vm.test/', 6))).toEqual(new Set(['orders-v2']));
  });

  it('exportTo: an entry exported to its own namespace only is unknown to a proxy of another namespace', async () => {
    const entry = (ns: string, exportTo: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: orders, namespace: ${ns}}
spec:
  hosts: [orders-${ns}.example.test]
  exportTo: ${exportTo}
  ports: [{number: 80, name: web, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {web: ${v1.port}}}]
`;
    const s = await sidecar(`${entry('default', '["."]')}---\n${entry('shop', '["."]')}---\n${entry('ops', '["default"]')}`);
    expect((await send(s.port, 'http://orders-default.example.test/')).json.name).toBe('orders-v1');
    expect((await send(s.port, 'http://orders-ops.example.test/')).json.name).toBe('orders-v1');
    expect((await send(s.port, 'http://orders-shop.example.test/')).status).toBe(502);
  });

  it('resolution NONE with addresses forwards to the address the client asked for, even with REGISTRY_ONLY', async () => {
    const plain = await sidecar('');
    expect((await send(plain.port, `http://127.0.0.1:${v1.port}/`)).status).toBe(502);
    const s = await sidecar(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: loopback, namespace: default}
spec:
  hosts: [loopback.test]
  addresses: [127.0.0.1/32]
  ports: [{number: ${v1.port}, name: web, protocol: HTTP}, {number: ${v2.port}, name: web2, protocol: HTTP}]
  resolution: NONE
`);
    expect((await send(s.port, `http://127.0.0.1:${v1.port}/`)).json.name).toBe('orders-v1');
    expect((await send(s.port, `http://127.0.0.1:${v2.port}/`)).json.name).toBe('orders-v2');
  });
});
