// Real kubectl (every version on this machine, 1.27 ... 1.33) against `bowline up` with a fresh
// --cache-dir: the verbs users run, the seeds' walkthrough commands as written, and a routing
// change applied with kubectl reaching a connected proxy. One control plane serves every version.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPortsFile } from '../../src/cli/ports-file.js';
import { runBowline, startBowline, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

const BIN = '/usr/lib/google-cloud-sdk/bin';
const VERSIONS = [27, 28, 29, 30, 31, 32, 33].filter((v) => existsSync(`${BIN}/kubectl.1.${v}`));
const home = tempDir('bowline-kubectl-');
const children: Child[] = [];
let push = 0;
let kubeconfig = '';

interface Run { code: number; out: string; err: string }

/** Runs kubectl 1.V with the kubeconfig `bowline kubeconfig` wrote, a fresh cache dir per version, and optional stdin. */
function kubectl(v: number, args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(`${BIN}/kubectl.1.${v}`, [...args, '--cache-dir', join(home, `cache-${v}`)], {
      env: { PATH: process.env.PATH, HOME: home, KUBECONFIG: kubeconfig, ...opts.env }, timeout: 30_000,
    }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0;
      resolve({ code, out: String(stdout), err: String(stderr) });
    });
    child.stdin!.end(opts.stdin ?? '');
  });
}

/** kubectl that must succeed; returns stdout. */
async function ok(v: number, args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await kubectl(v, args, opts);
  expect(r.code, `kubectl 1.${v} ${args.join(' ')}\n${r.err}${r.out}`).toBe(0);
  return r.out;
}

const vsYaml = (name: string, ns: string, subset: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${ns}${extra}
spec:
  hosts:
  - ${name}
  http:
  - route:
    - destination:
        host: ${name}
        subset: ${subset}
`;

beforeAll(async () => {
  const portsFile = join(home, 'ports.json');
  const up = startBowline(['up', '--home', home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0', '--push-plaintext', '--ports-file', portsFile]);
  children.push(up);
  const ports = (await waitFor(() => readPortsFile(portsFile, ['api', 'push']), { timeoutMs: 30_000, what: () => `bowline up (${up.output()})` }))!;
  push = ports.push!;
  kubeconfig = join(home, 'kubeconfig');
  const r = await runBowline(['kubeconfig', '--file', kubeconfig], { env: { BOWLINE_HOME: home, BOWLINE_SERVER: '' } });
  expect(r.code, r.err).toBe(0);
  writeFileSync(join(home, 'edit.sh'), '#!/bin/sh\nsed -i "s/subset: v2/subset: v3/" "$1"\n');
  chmodSync(join(home, 'edit.sh'), 0o755);
  for (const f of ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem']) writeFileSync(join(home, f), `not a real ${f}\n`);
}, 60_000);

afterAll(async () => {
  for (const c of children.reverse()) await c.stop();
  rmSync(home, { recursive: true, force: true });
});

describe.skipIf(VERSIONS.length === 0)('kubectl against bowline up', () => {
  it.each(VERSIONS)('kubectl 1.%i: apply, get, describe, explain, edit, patch, label, annotate, delete, api-resources, crds, the seeds\' commands', async (v) => {
    const ns = `kv${v}`;
    const name = `reviews${v}`;
    const file = join(home, `${name}.yaml`);

    writeFileSync(file, vsYaml(name, ns, 'v1'));
    expect(await ok(v, ['apply', '-f', file])).toBe(`virtualservice.networking.istio.io/${name} created\n`);
    writeFileSync(file, vsYaml(name, ns, 'v2'));
    expect(await ok(v, ['apply', '-f', file])).toBe(`virtualservice.networking.istio.io/${name} configured\n`);
    expect(await ok(v, ['apply', '-f', file])).toBe(`virtualservice.networking.istio.io/${name} unchanged\n`);
    expect(await ok(v, ['apply', '--server-side', '-f', file])).toBe(`virtualservice.networking.istio.io/${name} serverside-applied\n`);

    const table = await ok(v, ['get', 'virtualservices', '-n', ns]);
    expect(table).toMatch(new RegExp(`^NAME\\s+GATEWAYS\\s+HOSTS\\s+AGE\\n${name}\\s+\\["${name}"\\]\\s+\\d+s\\n$`));
    expect(await ok(v, ['get', 'vs', name, '-n', ns, '-o', 'yaml'])).toContain(`subset: v2`);
    expect(JSON.parse(await ok(v, ['get', 'vs', name, '-n', ns, '-o', 'json'])).spec.hosts).toEqual([name]);
    expect(await ok(v, ['get', 'vs', '-n', ns, '-o', 'name'])).toBe(`virtualservice.networking.istio.io/${name}\n`);
    expect(await ok(v, ['get', 'vs', '-n', ns, '-o', 'wide'])).toMatch(/HOSTS/);
    expect(await ok(v, ['get', 'vs', '-A'])).toMatch(new RegExp(`^NAMESPACE\\s+NAME[\\s\\S]*\\n${ns}\\s+${name}\\s`, 'm'));

    const explained = await ok(v, ['explain', 'virtualservice.spec.http.route']);
    expect(explained).toMatch(/destination/);
    expect(explained).toMatch(/relative weights/);
    expect(await ok(v, ['describe', 'vs', name, '-n', ns])).toMatch(new RegExp(`Name:\\s+${name}[\\s\\S]*Subset:\\s+v2`));

    expect(await ok(v, ['edit', 'vs', name, '-n', ns], { env: { EDITOR: join(home, 'edit.sh'), KUBE_EDITOR: join(home, 'edit.sh') } })).toBe(`virtualservice.networking.istio.io/${name} edited\n`);
    expect(await ok(v, ['get', 'vs', name, '-n', ns, '-o', 'jsonpath={.spec.http[0].route[0].destination.subset}'])).toBe('v3');
    expect(await ok(v, ['patch', 'vs', name, '-n', ns, '--type', 'merge', '-p', '{"spec":{"http":[{"route":[{"destination":{"host":"x","subset":"v4"}}]}]}}'])).toBe(`virtualservice.networking.istio.io/${name} patched\n`);
    expect(await ok(v, ['patch', 'vs', name, '-n', ns, '--type', 'json', '-p', '[{"op":"replace","path":"/spec/http/0/route/0/destination/host","value":"y"}]'])).toBe(`virtualservice.networking.istio.io/${name} patched\n`);
    expect(await ok(v, ['label', 'vs', name, '-n', ns, 'team=books'])).toBe(`virtualservice.networking.istio.io/${name} labeled\n`);
    // kubectl 1.27 itself prints "annotate" (its own message, fixed in 1.28).
    expect(await ok(v, ['annotate', 'vs', name, '-n', ns, 'owner=me'])).toMatch(new RegExp(`^virtualservice.networking.istio.io/${name} annotated?\n$`));
    expect(await ok(v, ['get', 'vs', '-n', ns, '--show-labels'])).toMatch(/LABELS\n.*team=books/);
    expect(await ok(v, ['get', 'vs', '-n', ns, '-L', 'team'])).toMatch(/TEAM\n.*books/);

    // get -w sees a change
    const watch = spawn(`${BIN}/kubectl.1.${v}`, ['get', 'vs', name, '-n', ns, '-w', '--cache-dir', join(home, `cache-${v}`)], { env: { PATH: process.env.PATH, HOME: home, KUBECONFIG: kubeconfig } });
    let seen = '';
    watch.stdout.on('data', (d) => { seen += d; });
    try {
      await waitFor(() => seen.includes(name), { timeoutMs: 15_000, what: `kubectl 1.${v} get -w first row` });
      await ok(v, ['label', 'vs', name, '-n', ns, 'watched=yes']);
      await waitFor(() => seen.split('\n').filter((l) => l.startsWith(name)).length >= 2, { timeoutMs: 15_000, what: `kubectl 1.${v} get -w change (${seen})` });
    } finally {
      watch.kill();
    }

    expect(await ok(v, ['delete', '-f', file])).toBe(`virtualservice.networking.istio.io "${name}" deleted\n`);
    await ok(v, ['apply', '-f', file]);
    expect(await ok(v, ['delete', 'virtualservice', name, '-n', ns])).toBe(`virtualservice.networking.istio.io "${name}" deleted\n`);
    const gone = await kubectl(v, ['get', 'vs', name, '-n', ns]);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain(`virtualservices.networking.istio.io "${name}" not found`);
    const unknown = await kubectl(v, ['get', 'deployments']);
    expect(unknown.err).toContain(`the server doesn't have a resource type "deployments"`);

    const resources = await ok(v, ['api-resources']);
    for (const line of [/virtualservices\s+vs\s+networking.istio.io\/v1\s+true\s+VirtualService/, /sidecars\s+networking.istio.io\/v1\s+true\s+Sidecar/, /namespaces\s+ns\s+v1\s+false\s+Namespace/]) expect(resources).toMatch(line);
    const crds = await ok(v, ['get', 'crds']);
    expect(crds).toMatch(/^NAME\s+CREATED AT\n/);
    expect(crds.split('\n').filter((l) => l.includes('istio.io')).length).toBeGreaterThanOrEqual(11);

    // The seeds' walkthrough commands, as written.
    await ok(v, ['apply', '-f', '-'], { stdin: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
spec:
  host: ratings
  subsets:
  - name: v1
    labels:
      version: v1
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - fault:
      delay:
        percentage:
          value: 100.0
        fixedDelay: 7s
    match:
    - headers:
        end-user:
          exact: jason
    route:
    - destination:
        host: ratings
        subset: v1
  - route:
    - destination:
        host: ratings
        subset: v1
` });
    expect(await ok(v, ['delete', 'virtualservice', 'ratings'])).toBe('virtualservice.networking.istio.io "ratings" deleted\n');
    await ok(v, ['delete', 'destinationrule', 'ratings']);
    expect(await ok(v, ['create', 'secret', 'generic', '-n', 'istio-system', 'cacerts', `--from-file=${join(home, 'ca-cert.pem')}`, `--from-file=${join(home, 'ca-key.pem')}`, `--from-file=${join(home, 'root-cert.pem')}`, `--from-file=${join(home, 'cert-chain.pem')}`])).toBe('secret/cacerts created\n');
    expect(await ok(v, ['get', 'secret', 'cacerts', '-n', 'istio-system'])).toMatch(/cacerts\s+Opaque\s+4\s/);
    // kubectl sends the bearer token only over HTTPS, so over plain HTTP the values stay hidden (403).
    expect((await kubectl(v, ['get', 'secret', 'cacerts', '-n', 'istio-system', '-o', 'json'])).err).toContain('Forbidden');
    await ok(v, ['delete', 'secret', 'cacerts', '-n', 'istio-system']);
    expect(await ok(v, ['label', 'namespace', 'default', 'istio-injection=enabled'])).toBe('namespace/default labeled\n');
    expect(await ok(v, ['get', 'namespace', '-L', 'istio-injection'])).toMatch(/default\s+Active\s+\S+\s+enabled/);
    await ok(v, ['label', 'namespace', 'default', 'istio-injection-']);
  }, 120_000);

  it('a routing change applied with kubectl reaches a connected proxy', async () => {
    const v = VERSIONS[VERSIONS.length - 1]!;
    const portsFile = join(home, 'proxy-ports.json');
    const proxy = startBowline(['proxy', '--server', `127.0.0.1:${push}`, '--name', 'sleep', '--namespace', 'default', '--service', 'sleep:9080', '--admin-port', '0', '--metrics-port', '0', '--outbound-port', '0', '--telemetry', 'off', '--ports-file', portsFile]);
    children.push(proxy);
    const ports = (await waitFor(() => readPortsFile(portsFile, ['admin']), { timeoutMs: 30_000, what: () => `proxy ports (${proxy.output()})` }))!;
    await ok(v, ['apply', '-f', '-'], { stdin: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: reviews
spec:
  hosts: [reviews.example.com]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews-timeout
spec:
  hosts: [reviews.example.com]
  http:
  - timeout: 7s
    route:
    - destination: {host: reviews.example.com}
` });
    const dump = async () => (await fetch(`http://127.0.0.1:${ports.admin}/config_dump`)).text();
    await waitFor(async () => (await dump()).includes('7000'), { timeoutMs: 20_000, what: 'the 7s timeout in the proxy' });
    await ok(v, ['patch', 'vs', 'reviews-timeout', '--type', 'merge', '-p', '{"spec":{"http":[{"timeout":"9s","route":[{"destination":{"host":"reviews.example.com"}}]}]}}']);
    await waitFor(async () => (await dump()).includes('9000'), { timeoutMs: 20_000, what: 'the 9s timeout in the proxy' });
  }, 60_000);
});
