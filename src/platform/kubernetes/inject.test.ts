import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { runKubeInject } from '../../cli/commands/kube-inject.js';
import { injectPod, InjectError, PROXY_CONTAINER, STATUS_ANNOTATION, TOKEN_ANNOTATION, podPatch, type InjectOptions, type Json } from './inject.js';
import { injectStream } from './workloads.js';
import { expectGolden } from '../../../test/support/golden.js';

const testdata = (f: string) => new URL(`./testdata/${f}`, import.meta.url);
const bookinfo = new URL('../../../samples/kubernetes/bookinfo.yaml', import.meta.url);
const minted: InjectOptions = { image: 'bowline/bowline:test', server: 'bowline.istio-system.svc:15012', identity: { kind: 'minted', token: 'TOKEN-FOR-THIS-POD' } };
const offline: InjectOptions = { image: 'bowline/bowline:test', server: 'bowline.istio-system.svc:15012', identity: { kind: 'secret' } };

/** Compares with testdata/NAME; a missing file fails, BOWLINE_UPDATE_GOLDEN=1 writes it (test/support/golden.ts). */
function golden(name: string, actual: string): void {
  expectGolden(fileURLToPath(testdata(name)), actual);
}

function pod(): Json {
  return parse(readFileSync(testdata('reviews-pod.yaml'), 'utf8')) as Json;
}

async function cli(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  let out = ''; let err = '';
  const code = await runKubeInject(args, { out: (s) => { out += s; }, err: (s) => { err += s; }, ...(stdin !== undefined ? { stdin: () => stdin } : {}) });
  return { code, out, err };
}

/** Applies the add/replace operations of a patch to a copy of `doc` (enough for the ops podPatch emits). */
function applyPatch(doc: Json, ops: Array<{ op: string; path: string; value: unknown }>): Json {
  const copy = structuredClone(doc);
  for (const op of ops) {
    const keys = op.path.split('/').slice(1);
    let cur = copy as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
    cur[keys[keys.length - 1]!] = op.value;
  }
  return copy;
}

describe('Kubernetes sidecar injection', () => {
  it('turns a pod into the golden JSONPatch: init container with NET_ADMIN/NET_RAW, proxy as 1337, token file, probes rewritten, status annotation', () => {
    const p = pod();
    const before = { meta: p['metadata'] as Json, spec: p['spec'] as Json };
    const r = injectPod(before.meta, before.spec, minted);
    if ('skipped' in r) throw new Error(r.skipped);
    const patch = podPatch(before, r);
    golden('reviews-pod.patch.json', JSON.stringify(patch, null, 2) + '\n');
    const after = applyPatch(p, patch);
    const spec = after['spec'] as Json;
    const containers = spec['containers'] as Json[];
    expect(containers.map((c) => c['name'])).toEqual([PROXY_CONTAINER, 'reviews']);
    const init = (spec['initContainers'] as Json[])[0]!;
    expect(init['args']).toEqual(['capture', 'install', '--proxy-uid', '1337', '--proxy-gid', '1337', '--include-inbound-ports', '*', '--exclude-outbound-ports', '5432', '--dns']);
    expect((init['securityContext'] as Json)['capabilities']).toEqual({ add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
    expect((containers[0]!['securityContext'] as Json)['runAsUser']).toBe(1337);
    // The app's probe now asks the proxy, which runs the original (named port resolved) from inside the pod.
    expect(containers[1]!['readinessProbe']).toEqual({ httpGet: { path: '/app-health/reviews/readyz', port: 15021, scheme: 'HTTP' }, periodSeconds: 5 });
    const args = containers[0]!['args'] as string[];
    expect(JSON.parse(args[args.indexOf('--app-probers') + 1]!)).toEqual({
      '/app-health/reviews/readyz': { httpGet: { path: '/health', port: 9080 }, timeoutSeconds: 1 },
      '/app-health/reviews/livez': { tcpSocket: { port: 9080 }, timeoutSeconds: 2 },
    });
    const annotations = (after['metadata'] as Json)['annotations'] as Record<string, string>;
    expect(annotations[TOKEN_ANNOTATION]).toBe('TOKEN-FOR-THIS-POD');
    expect(JSON.parse(annotations[STATUS_ANNOTATION]!)).toMatchObject({ initContainers: ['istio-init'], containers: ['istio-proxy'], volumes: ['bowline-bootstrap'] });
    // The token reaches the proxy as a file from the pod's own annotation, never on its command line.
    expect(args.join(' ')).not.toContain('TOKEN-FOR-THIS-POD');
    expect(spec['volumes']).toContainEqual({ name: 'bowline-bootstrap', downwardAPI: { items: [{ path: 'token', fieldRef: { fieldPath: `metadata.annotations['${TOKEN_ANNOTATION}']` } }] } });
  });

  it('is idempotent: an injected pod is left alone, and so are opted-out and host-network pods', () => {
    const p = pod();
    const r = injectPod(p['metadata'] as Json, p['spec'] as Json, minted);
    if ('skipped' in r) throw new Error(r.skipped);
    expect(injectPod(r.meta, r.spec, minted)).toEqual({ skipped: expect.stringContaining('already injected') });
    const meta = p['metadata'] as Json;
    expect(injectPod({ ...meta, labels: { 'sidecar.istio.io/inject': 'false' } }, p['spec'] as Json, minted)).toEqual({ skipped: 'sidecar.istio.io/inject: "false"' });
    expect(injectPod(meta, { ...(p['spec'] as Json), hostNetwork: true }, minted)).toEqual({ skipped: expect.stringContaining('hostNetwork') });
  });

  it('puts the proxy among the init containers with restartPolicy Always as a native sidecar', () => {
    const p = pod();
    const r = injectPod(p['metadata'] as Json, p['spec'] as Json, { ...minted, nativeSidecar: true });
    if ('skipped' in r) throw new Error(r.skipped);
    const inits = r.spec['initContainers'] as Json[];
    expect(inits.map((c) => [c['name'], c['restartPolicy']])).toEqual([['istio-init', undefined], ['istio-proxy', 'Always']]);
    expect((r.spec['containers'] as Json[]).map((c) => c['name'])).toEqual(['reviews']);
  });

  it('refuses a probe on a port name the container does not have, naming it', () => {
    const p = pod();
    const spec = structuredClone(p['spec']) as Json;
    ((spec['containers'] as Json[])[0]!['readinessProbe'] as Json)['httpGet'] = { path: '/', port: 'admin' };
    expect(() => injectPod(p['metadata'] as Json, spec, minted)).toThrow(InjectError);
    expect(() => injectPod(p['metadata'] as Json, spec, minted)).toThrow('container "reviews" readinessProbe: port "admin" names no port');
  });
});

describe('bowline kube-inject', () => {
  it('injects each workload kind and a List, leaving Services and ServiceAccounts as they are', () => {
    const text = readFileSync(testdata('workloads.yaml'), 'utf8');
    const r = injectStream(text, offline);
    const docs = parseAllDocuments(r.text).map((d) => d.toJS() as Json);
    const templateOf = (o: Json): Json => {
      const spec = o['spec'] as Json;
      if (o['kind'] === 'Pod') return o;
      if (o['kind'] === 'CronJob') return ((spec['jobTemplate'] as Json)['spec'] as Json)['template'] as Json;
      return spec['template'] as Json;
    };
    const kinds = docs.flatMap((d) => (d['kind'] === 'List' ? (d['items'] as Json[]) : [d]));
    const injected = kinds.filter((k) => k['kind'] !== 'Service').map((k) => {
      const t = templateOf(k);
      return [k['kind'], ((t['spec'] as Json)['containers'] as Json[]).map((c) => c['name'])[0], ((t['spec'] as Json)['volumes'] as Json[]).at(-1)];
    });
    expect(injected).toEqual(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Deployment'].map((k) => [k, 'istio-proxy', { name: 'bowline-join', secret: { secretName: 'bowline-join-worker', optional: false } }]));
    expect(kinds.find((k) => k['kind'] === 'Service')).toEqual({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'worker' }, spec: { selector: { app: 'worker' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    expect(r.notes.map((n) => n.workload)).toEqual(['Pod/worker', 'Deployment/worker', 'StatefulSet/worker', 'DaemonSet/worker', 'ReplicaSet/worker', 'Job/worker', 'CronJob/worker', 'Deployment/in-a-list']);
  });

  it('prints the same bytes when run on its own output (Bookinfo), and leaves an injected file as is', async () => {
    const once = await cli(['-f', bookinfo.pathname, '--image', 'bowline/bowline:test']);
    expect(once.code, once.err).toBe(0);
    expect(once.out).toContain('name: istio-proxy');
    expect(once.out.match(/name: istio-proxy/g)).toHaveLength(6);
    const twice = await cli(['-f', '-', '--image', 'bowline/bowline:test'], once.out);
    expect(twice.code, twice.err).toBe(0);
    expect(twice.out).toBe(once.out);
    expect(twice.err).toBe('');
  });

  it('says which workloads it left alone and why; bad YAML is refused with file:line:col', async () => {
    const optedOut = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    sidecar.istio.io/inject: "false"\nspec:\n  containers:\n    - name: a\n      image: x\n';
    const r = await cli(['-f', '-'], optedOut);
    expect(r.code).toBe(0);
    expect(r.out).toBe(optedOut);
    expect(r.err).toBe('bowline kube-inject: Pod/p left as is: sidecar.istio.io/inject: "false"\n');
    const bad = await cli(['-f', '-'], 'kind: Pod\nmetadata: [\n');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^bowline kube-inject: BOWLINE_E_KUBE_INJECT: stdin:\d+:\d+: not YAML: /);
  });
});
