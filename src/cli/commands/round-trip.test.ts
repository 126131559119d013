// `bowline get KIND -o yaml > f; bowline apply -f f` works (a v1 List with server-set fields), and
// the kinds added for Istio's current API (WorkloadGroup, Telemetry, ProxyConfig) go through the
// config API and the CLI like the others; EnvoyFilter is refused with what to use instead.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startControlPlane, type ControlPlane } from '../../control/control-plane.js';
import type { CliIO } from '../client.js';
import { runApply } from './apply.js';
import { runDelete } from './delete.js';
import { runGet } from './get.js';
import { tempDir } from '../../../test/support/temp.js';

const NEW_KINDS = `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: billing, namespace: vms}
spec:
  metadata: {labels: {app: billing}}
  template: {serviceAccount: billing, ports: {http: 8080}}
  probe: {httpGet: {path: /ready, port: 8080}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: vms}
spec:
  accessLogging:
  - providers: [{name: envoy}]
---
apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata: {name: billing, namespace: vms}
spec:
  selector: {matchLabels: {app: billing}}
  concurrency: 2
`;

let cp: ControlPlane;
let home: string;
let env: NodeJS.ProcessEnv;

function io(stdin = ''): CliIO & { out: string; err: string } {
  const x = { out: '', err: '', stdout: (s: string) => { x.out += s; }, stderr: (s: string) => { x.err += s; }, readStdin: async () => stdin };
  return x;
}

beforeAll(async () => {
  home = tempDir('bowline-round-trip-');
  cp = await startControlPlane({ home: join(home, 'cp'), listenApi: '127.0.0.1:0', log: () => {} });
  env = { BOWLINE_SERVER: cp.apiUrl, BOWLINE_HOME: join(home, 'cli-home') };
});
afterAll(async () => {
  await cp.close();
  rmSync(home, { recursive: true, force: true });
});

describe('round trips through get -o yaml and apply', () => {
  it('WorkloadGroup, Telemetry and ProxyConfig: apply, get by short name and plural, store', async () => {
    const x = io(NEW_KINDS);
    expect(await runApply(['-f', '-'], x, env)).toBe(0);
    expect(x.out).toBe('workloadgroup.networking.istio.io/billing created\ntelemetry.telemetry.istio.io/mesh-default created\nproxyconfig.networking.istio.io/billing created\n');
    expect((await cp.store.get('Telemetry', 'vms', 'mesh-default')).spec).toEqual({ accessLogging: [{ providers: [{ name: 'envoy' }] }] });
    const g = io();
    expect(await runGet(['wg', 'billing', '-n', 'vms', '-o', 'yaml'], g, env)).toBe(0);
    expect(parse(g.out)).toMatchObject({ kind: 'WorkloadGroup', spec: { template: { serviceAccount: 'billing' } } });
    const t = io();
    expect(await runGet(['telemetries', '-n', 'vms'], t, env)).toBe(0);
    expect(t.out).toContain('mesh-default');
    const p = io();
    expect(await runGet(['proxyconfig', '-n', 'vms', '-o', 'json'], p, env)).toBe(0);
    expect(JSON.parse(p.out).items.map((i: { spec: unknown }) => i.spec)).toEqual([{ selector: { matchLabels: { app: 'billing' } }, concurrency: 2 }]);
  });

  it('get -o yaml > f; delete; apply -f f recreates everything; apply again is unchanged', async () => {
    const vs = (n: string) => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${n}, namespace: rt, labels: {team: a}}\nspec:\n  hosts: [${n}]\n  http:\n  - route: [{destination: {host: ${n}}}]\n`;
    expect(await runApply(['-f', '-'], io(`${vs('a')}---\n${vs('b')}`), env)).toBe(0);
    const g = io();
    expect(await runGet(['vs', '-n', 'rt', '-o', 'yaml'], g, env)).toBe(0);
    const listed = parse(g.out);
    expect(listed).toMatchObject({ apiVersion: 'v1', kind: 'List' });
    expect(listed.items[0].metadata.resourceVersion).toBeDefined();
    const f = join(home, 'vs.yaml');
    writeFileSync(f, g.out);
    // Unchanged while they exist.
    let x = io();
    expect(await runApply(['-f', f], x, env)).toBe(0);
    expect(x.out).toBe('virtualservice.networking.istio.io/a unchanged\nvirtualservice.networking.istio.io/b unchanged\n');
    for (const n of ['a', 'b']) expect(await runDelete(['vs', n, '-n', 'rt'], io(), env)).toBe(0);
    x = io();
    expect(await runApply(['-f', f], x, env)).toBe(0);
    expect(x.err).toBe('');
    expect(x.out).toBe('virtualservice.networking.istio.io/a created\nvirtualservice.networking.istio.io/b created\n');
    expect((await cp.store.get('VirtualService', 'rt', 'b')).metadata.labels).toEqual({ team: 'a' });
  });

  it('an invalid item of a List is reported inside the List, and nothing is applied', async () => {
    const f = join(home, 'bad-list.yaml');
    writeFileSync(f, 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: networking.istio.io/v1\n  kind: ServiceEntry\n  metadata: {name: any, namespace: rt}\n  spec:\n    hosts: ["*"]\n');
    const x = io();
    expect(await runApply(['-f', f], x, env)).toBe(1);
    expect(x.err).toContain(`${f}:8:13 BOWLINE_E_API_HOST items[0].spec.hosts[0]: a ServiceEntry host cannot be "*"`);
    expect(x.out).toBe('');
  });

  it('EnvoyFilter is refused at apply with what to use instead', async () => {
    const x = io('apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: add-header}\nspec:\n  configPatches: []\n');
    expect(await runApply(['-f', '-'], x, env)).toBe(1);
    expect(x.err).toContain('<stdin>:2:7 BOWLINE_E_API_ENVOY_KIND kind: EnvoyFilter: EnvoyFilter patches the configuration of Envoy, and Bowline runs no Envoy');
    expect(x.err).toContain('VirtualService http[].headers');
  });
});
