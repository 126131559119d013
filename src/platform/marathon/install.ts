/**
 * `bowline install marathon`: the Marathon definitions of a Bowline mesh on DC/OS, offline.
 * The control plane is an app (embedded store on a persistent volume, or etcd with several
 * instances), reachable through DC/OS named VIPs; the ingress gateway is a pod with host ports
 * 80 and 443. No Kubernetes API server and no etcd are needed.
 */
import type { Json } from './inject.js';

/** The DC/OS named VIP of the control plane's API (`/bowline/control-plane:15014`). */
export const CONTROL_PLANE_API = 'bowlinecontrol-plane.marathon.l4lb.thisdcos.directory:15014';
/** The DC/OS named VIP of the control plane's TLS push stream, where injected proxies connect. */
export const CONTROL_PLANE_PUSH = 'bowlinecontrol-plane.marathon.l4lb.thisdcos.directory:15012';

/** What to install. */
export interface InstallOptions {
  /** Image holding the `bowline` package (control plane, proxy). */
  image: string;
  /** `embedded` (default: one instance, a persistent volume) or `etcd://HOST:PORT,...` (several instances). */
  store: string;
  /** Control-plane instances (etcd store only; default 1, or 3 with etcd). */
  replicas?: number;
  /** Marathon URL the registry reads (default http://marathon.mesos:8080). */
  marathonUrl: string;
  /** Mesos-DNS domains (default marathon.mesos, marathon.slave.mesos). */
  mesosDomains?: string[];
  /** DC/OS service-account token file inside the task, for Marathon behind adminrouter. */
  marathonTokenFile?: string;
  /** DC/OS secret holding the ingress gateway's join token. */
  gatewayJoinSecret?: string;
}

/** A definition that cannot be produced from these options. */
export class InstallError extends Error {
  readonly code = 'BOWLINE_E_MARATHON_INSTALL';
  override name = 'InstallError';
}

/** The control plane app and the ingress gateway pod, named by the file they go to with `-o DIR`. */
export function marathonInstall(o: InstallOptions): Array<{ file: string; kind: 'app' | 'pod'; definition: Json }> {
  const embedded = o.store === 'embedded';
  if (!embedded && !o.store.startsWith('etcd://')) throw new InstallError(`--store must be embedded or etcd://HOST:PORT[,...], got "${o.store}"`);
  const replicas = o.replicas ?? (embedded ? 1 : 3);
  if (embedded && replicas !== 1) throw new InstallError('the embedded store is one process on one persistent volume: use --store etcd://... for --replicas > 1');
  const home = embedded ? 'bowline-home' : '$MESOS_SANDBOX/bowline-home';
  const args = ['exec bowline up', `--home ${home}`, '--store', o.store, '--listen-api 0.0.0.0:$PORT0', '--listen-push-tls 0.0.0.0:$PORT1', `--marathon ${o.marathonUrl}`,
    ...(o.marathonTokenFile ? [`--marathon-token-file ${o.marathonTokenFile}`] : []), ...(o.mesosDomains ?? []).map((d) => `--marathon-domain ${d}`)];
  const controlPlane: Json = {
    id: '/bowline/control-plane',
    instances: replicas,
    cpus: 0.5,
    mem: 512,
    cmd: args.join(' '),
    container: {
      type: 'MESOS',
      docker: { image: o.image },
      ...(embedded ? { volumes: [{ containerPath: 'bowline-home', mode: 'RW', persistent: { type: 'root', size: 1024 } }] } : {}),
    },
    portDefinitions: [
      { port: 0, name: 'http-api', protocol: 'tcp', labels: { VIP_0: '/bowline/control-plane:15014' } },
      { port: 0, name: 'tls-push', protocol: 'tcp', labels: { VIP_1: '/bowline/control-plane:15012' } },
    ],
    healthChecks: [{ protocol: 'MESOS_HTTP', path: '/readyz', portIndex: 0, gracePeriodSeconds: 60, intervalSeconds: 10, timeoutSeconds: 5, maxConsecutiveFailures: 3 }],
    labels: { 'bowline.io/component': 'control-plane' },
    // A task with a persistent volume is restarted in place, never beside itself.
    ...(embedded ? { unreachableStrategy: 'disabled', upgradeStrategy: { minimumHealthCapacity: 0, maximumOverCapacity: 0 } } : { upgradeStrategy: { minimumHealthCapacity: 0.5, maximumOverCapacity: 0 } }),
  };
  const gateway: Json = {
    id: '/bowline/ingressgateway',
    labels: { istio: 'ingressgateway', 'bowline.io/component': 'ingressgateway' },
    scaling: { kind: 'fixed', instances: 1 },
    networks: [{ mode: 'host' }],
    containers: [{
      name: 'bowline-proxy',
      resources: { cpus: 0.5, mem: 256 },
      image: { kind: 'DOCKER', id: o.image },
      exec: { command: { shell: `printf %s "$BOWLINE_JOIN_TOKEN" > "$MESOS_SANDBOX/bowline.token" && exec bowline proxy --gateway --server ${CONTROL_PLANE_PUSH} --token-file "$MESOS_SANDBOX/bowline.token" --name istio-ingressgateway --namespace istio-system --service-account istio-ingressgateway --labels istio=ingressgateway,app=istio-ingressgateway --bind-port 80=80 --bind-port 443=443 --address "$HOST" --id "$MESOS_TASK_ID"` } },
      environment: { BOWLINE_JOIN_TOKEN: { secret: 'bowline-join' } },
      endpoints: [{ name: 'http2', hostPort: 80, protocol: ['tcp'] }, { name: 'https', hostPort: 443, protocol: ['tcp'] }],
      healthCheck: { tcp: { endpoint: 'http2' }, gracePeriodSeconds: 60, intervalSeconds: 10, maxConsecutiveFailures: 3, timeoutSeconds: 5 },
    }],
    secrets: { 'bowline-join': { source: o.gatewayJoinSecret ?? 'bowline/join/istio-system-istio-ingressgateway' } },
  };
  return [{ file: 'control-plane.json', kind: 'app', definition: controlPlane }, { file: 'ingressgateway.json', kind: 'pod', definition: gateway }];
}
