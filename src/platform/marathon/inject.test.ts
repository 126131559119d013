import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInstall } from '../../cli/commands/install.js';
import { runMarathon } from '../../cli/commands/marathon.js';
import { DEFAULT_DOMAINS } from '../../model/service.js';
import { DEFAULT_MESOS_DOMAINS, ViewBuilder } from '../../registry/marathon/translate.js';
import type { MarathonApp, MarathonPodStatus } from '../../registry/marathon/types.js';
import { inject, InjectError, type Json } from './inject.js';
import { marathonInstall } from './install.js';
import { tempDir } from '../../../test/support/temp.js';

const sample = (f: string) => new URL(`../../../samples/marathon/${f}`, import.meta.url);
const opts = { server: 'cp.example:15012', image: 'bowline/bowline:test' };

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''; let err = '';
  const code = await runMarathon(args, (s) => { out += s; }, (s) => { err += s; });
  return { code, out, err };
}

describe('bowline marathon inject', () => {
  it('adds a capture-mode proxy container to each of the seed\'s Bookinfo pods, with a join secret and the mesh labels', () => {
    const group = JSON.parse(readFileSync(sample('bookinfo-pods.json'), 'utf8')) as Json;
    const { definition } = inject(group, opts);
    const pods = definition['pods'] as Json[];
    expect(pods).toHaveLength(6);
    const reviews = pods.find((p) => p['id'] === '/reviews-v2')!;
    expect(reviews['labels']).toEqual({ istio: 'reviews', version: 'v2', 'bowline.io/proxy': 'sidecar', 'bowline.io/service-account': 'reviews' });
    const containers = reviews['containers'] as Json[];
    expect(containers.map((c) => c['name'])).toEqual(['reviews', 'bowline-proxy']);
    const shell = ((containers[1]!['exec'] as Json)['command'] as Json)['shell'] as string;
    expect(shell).toContain('bowline capture install --proxy-uid 1337 --include-inbound-ports 9080 --dns && ');
    expect(shell).toContain('exec setpriv --reuid=1337 --regid=1337 --clear-groups bowline proxy --server cp.example:15012 --name reviews-v2 --namespace default --service-account reviews --labels app=reviews,version=v2 --service reviews:9080/HTTP --endpoints-from platform --capture iptables --token-file "$MESOS_SANDBOX/bowline.token" --id "$MESOS_TASK_ID"');
    expect(reviews['secrets']).toEqual({ 'bowline-join': { source: 'bowline/join/default-reviews' } });
    expect(containers[1]!['environment']).toEqual({ BOWLINE_JOIN_TOKEN: { secret: 'bowline-join' } });
  });

  it('is idempotent: its own output, injected again, prints the same bytes (a group of pods, an explicit app)', async () => {
    for (const [file, extra] of [['bookinfo-pods.json', []], ['reviews-v1-app.json', ['--explicit']]] as const) {
      const once = await cli(['inject', '-f', sample(file).pathname, ...extra, '--server', 'cp:15012']);
      expect(once.code, once.err).toBe(0);
      const tmp = join(tempDir('bowline-inject-'), `${file}-${extra.length}.json`);
      (await import('node:fs')).writeFileSync(tmp, once.out);
      const twice = await cli(['inject', '-f', tmp, ...extra, '--server', 'cp:15012']);
      expect(twice.code).toBe(0);
      expect(twice.out).toBe(once.out);
    }
  });

  it('turns an app into a pod with the same container, carrying its ports, env, health check and constraints, and says what it could not carry', () => {
    const app = { id: '/shop/cart', instances: 2, cpus: 0.3, mem: 64, cmd: 'exec cart --port 8080', labels: { istio: 'cart' }, env: { A: '1' },
      networks: [{ mode: 'container', name: 'dcos' }], container: { type: 'MESOS', docker: { image: 'shop/cart:1' }, portMappings: [{ containerPort: 8080, name: 'http' }] },
      healthChecks: [{ protocol: 'MESOS_HTTP', path: '/ready', portIndex: 0 }], constraints: [['hostname', 'UNIQUE']], backoffSeconds: 3 };
    const { definition, notes } = inject(app, opts);
    expect(definition['id']).toBe('/shop/cart');
    expect(definition['scaling']).toEqual({ kind: 'fixed', instances: 2 });
    expect(definition['environment']).toEqual({ A: '1' });
    expect(definition['scheduling']).toEqual({ placement: { constraints: [{ fieldName: 'hostname', operator: 'UNIQUE' }] } });
    const [c, proxy] = definition['containers'] as Json[];
    expect(c).toMatchObject({ name: 'app', exec: { command: { shell: 'exec cart --port 8080' } }, image: { kind: 'DOCKER', id: 'shop/cart:1' }, endpoints: [{ name: 'http', containerPort: 8080 }], healthCheck: { http: { endpoint: 'http', path: '/ready' } } });
    expect(((proxy!['exec'] as Json)['command'] as Json)['shell']).toContain('--namespace shop --service-account cart');
    expect(notes).toEqual(['/shop/cart: "backoffSeconds" was not carried over to the pod (pods have no such field); check the result']);
  });

  it('refuses capture for a host-network pod (it would capture the agent) and names the two ways out', () => {
    const pod = { id: '/hostpod', labels: { istio: 'h' }, containers: [{ name: 'c', endpoints: [{ name: 'http', hostPort: 0 }] }] };
    expect(() => inject(pod, opts)).toThrow(InjectError);
    expect(() => inject(pod, opts)).toThrow(/container network .*--explicit/);
    const explicit = inject(pod, { ...opts, explicit: true }).definition;
    expect(((explicit['containers'] as Json[])[0]!['environment'] as Json)['HTTP_PROXY']).toBe('http://127.0.0.1:15001');
  });

  it('--explicit keeps an app an app: the proxy starts beside its command on ports of its own, which the Marathon registry reports as the endpoint', () => {
    const app = JSON.parse(readFileSync(sample('reviews-v1-app.json'), 'utf8')) as Json;
    const { definition } = inject(app, { ...opts, explicit: true });
    expect(definition['cmd']).toMatch(/^printf %s "\$BOWLINE_JOIN_TOKEN" > .* bowline proxy .*--service reviews:9080\/HTTP@\$PORT0 --bind-port 9080=\$PORT1 --outbound-port \$PORT2 --endpoints-from platform --id "\$MESOS_TASK_ID" & export HTTP_PROXY=http:\/\/127\.0\.0\.1:\$PORT2 .*; exec node .*reviews\.js/);
    expect((definition['portDefinitions'] as Json[]).map((p) => p['name'])).toEqual(['http', 'bowline-in-http', 'bowline-outbound']);
    // What the registry makes of a task of the injected app: the endpoint is the proxy's inbound port, and it speaks mTLS.
    const b = new ViewBuilder({ serviceLabel: 'istio', domains: DEFAULT_DOMAINS, mesosDomains: DEFAULT_MESOS_DOMAINS, source: 'marathon' });
    b.addApp({ ...(definition as unknown as MarathonApp), tasks: [{ id: 't', host: '10.0.0.1', ports: [31000, 31001, 31002], state: 'TASK_RUNNING', healthCheckResults: [{ alive: true }] }] });
    const v = b.view();
    expect(v.services[0]!.ports).toEqual([{ name: 'http', port: 9080, protocol: 'HTTP' }]);
    expect(v.endpoints.map((e) => [e.address, e.port, e.tlsMode, e.serviceAccount])).toEqual([['10.0.0.1', 31001, 'istio', 'reviews']]);
  });

  it('the registry leaves the injected proxy container out of a pod\'s service ports', () => {
    const group = JSON.parse(readFileSync(sample('bookinfo-pods.json'), 'utf8')) as Json;
    const pod = (inject(group, opts).definition['pods'] as Json[]).find((p) => p['id'] === '/ratings')!;
    const b = new ViewBuilder({ serviceLabel: 'istio', domains: DEFAULT_DOMAINS, mesosDomains: DEFAULT_MESOS_DOMAINS, source: 'marathon' });
    b.addPod({ id: '/ratings', spec: pod as unknown as MarathonPodStatus['spec'], instances: [{ id: 'i', status: 'STABLE', networks: [{ name: 'dcos', addresses: ['9.0.0.7'] }] }] });
    expect(b.view().services[0]!.ports.map((p) => p.port)).toEqual([9080]);
    expect(b.view().endpoints.map((e) => `${e.address}:${e.port}/${e.tlsMode}`)).toEqual(['9.0.0.7:9080/istio']);
  });

  it('reports bad input with its code and exit 1', async () => {
    const r = await cli(['inject', '-f', sample('bookinfo-gateway.yaml').pathname]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^bowline marathon: BOWLINE_E_MARATHON_INJECT: .*bookinfo-gateway\.yaml is not JSON/);
  });
});

describe('bowline install marathon', () => {
  it('prints the control plane app (persistent volume, VIPs, health check) and the gateway pod (host ports 80/443)', async () => {
    let out = '';
    expect(await runInstall(['marathon'], (s) => { out += s; })).toBe(0);
    const [cp, gw] = JSON.parse(out) as Json[];
    expect(cp).toMatchObject({ id: '/bowline/control-plane', instances: 1, container: { volumes: [{ containerPath: 'bowline-home', persistent: { size: 1024 } }] }, healthChecks: [{ path: '/readyz' }] });
    expect(cp!['cmd']).toContain('--marathon http://marathon.mesos:8080');
    expect((cp!['portDefinitions'] as Json[]).map((p) => (p['labels'] as Json))).toEqual([{ VIP_0: '/bowline/control-plane:15014' }, { VIP_1: '/bowline/control-plane:15012' }]);
    expect(gw).toMatchObject({ id: '/bowline/ingressgateway', labels: { istio: 'ingressgateway' } });
    expect(((gw!['containers'] as Json[])[0]!['endpoints'] as Json[]).map((e) => [e['name'], e['hostPort']])).toEqual([['http2', 80], ['https', 443]]);
  });

  it('with etcd runs three control-plane instances without a volume, and refuses replicas on the embedded store', () => {
    const [cp] = marathonInstall({ image: 'i', store: 'etcd://etcd-0:2379', marathonUrl: 'http://m:8080' });
    expect(cp!.definition['instances']).toBe(3);
    expect((cp!.definition['container'] as Json)['volumes']).toBeUndefined();
    expect(() => marathonInstall({ image: 'i', store: 'embedded', replicas: 2, marathonUrl: 'http://m:8080' })).toThrow(/etcd/);
  });
});
