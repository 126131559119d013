/**
 * Sidecar injection for Kubernetes Pods (the webhook and `bowline kube-inject` share it).
 *
 * A pod gets, as Istio's injector gives it (same container names, so `kubectl logs -c istio-proxy`
 * and dashboards keyed on them keep working):
 * - `istio-init`: an init container that runs `bowline capture install --dns` as root with only
 *   NET_ADMIN and NET_RAW, so the pod's traffic and DNS reach the proxy (docs/capture.md);
 * - `istio-proxy`: the proxy, as uid/gid 1337 (the uid capture exempts), first among the
 *   containers, or, with `nativeSidecar`, an init container with `restartPolicy: Always` (a
 *   Kubernetes "native sidecar": started before the app, stopped after it);
 * - its identity: a bootstrap token the proxy exchanges for its workload certificate on first
 *   contact, from a Secret (`identity.kind: secret`, a reusable join token: kube-inject, offline)
 *   or minted for this pod at admission (`identity.kind: minted`, single use: the webhook where pods
 *   have no service-account tokens), or the pod's projected service-account token of audience
 *   `istio-ca` (`identity.kind: projected`, Istio's way: the control plane reviews it with the
 *   apiserver; the root's hash the proxy pins comes in env BOWLINE_CA_ROOT_HASH); the token
 *   reaches the proxy as a file (a downwardAPI volume of the pod's own annotation, the Secret's
 *   volume, or the projected volume `istio-token`), never on a command line;
 * - readiness, liveness and startup probes of HTTP and TCP kinds rewritten to the proxy's health
 *   port (15021, `/app-health/CONTAINER/readyz|livez|startupz`), which runs the original probe
 *   from inside the pod: a kubelet probe would otherwise be captured and meet mTLS (or, for TCP,
 *   always succeed against the capture listener);
 * - the `sidecar.istio.io/status` annotation naming what was added: a pod that has it (or an
 *   `istio-proxy` container) is left exactly as it is, so injection is idempotent.
 */

/** A Kubernetes object as parsed JSON/YAML. */
export type Json = Record<string, unknown>;

/** Annotation that marks an injected pod (Istio's name; its JSON lists what was added). */
export const STATUS_ANNOTATION = 'sidecar.istio.io/status';
/** Label/annotation that opts a pod in (`"true"`) or out (`"false"`) of injection (Istio's name). */
export const INJECT_KEY = 'sidecar.istio.io/inject';
/** Annotation holding the single-use bootstrap token minted at admission (read by the proxy through a downwardAPI file). */
export const TOKEN_ANNOTATION = 'bowline.io/bootstrap-token';
/** Name of the proxy container. */
export const PROXY_CONTAINER = 'istio-proxy';
/** Name of the init container that installs capture. */
export const INIT_CONTAINER = 'istio-init';
/** The proxy's health port: its own readiness and the rewritten app probes. */
export const HEALTH_PORT = 15021;
/** Uid and gid the proxy runs as; capture never redirects their traffic. */
export const PROXY_UID = 1337;

const TOKEN_DIR = '/var/run/bowline/bootstrap';
const JOIN_DIR = '/var/run/bowline/join';
const TOKEN_VOLUME = 'bowline-bootstrap';
const JOIN_VOLUME = 'bowline-join';
/** Istio's names for the projected token: volume istio-token, file /var/run/secrets/tokens/istio-token, audience istio-ca. */
const PROJECTED_VOLUME = 'istio-token';
const PROJECTED_DIR = '/var/run/secrets/tokens';

/** Where the proxy's first-contact token comes from. */
export type IdentitySource =
  /** A Secret in the pod's namespace (default `bowline-join-SERVICEACCOUNT`), key `token` by default. */
  | { kind: 'secret'; secretName?: string; key?: string }
  | { kind: 'minted'; token: string }
  /** The pod's service-account token for audience istio-ca (projected volume `istio-token`); `rootHash` pins the control plane's root. */
  | { kind: 'projected'; rootHash: string };

/** What injection needs to know. */
export interface InjectOptions {
  /** Image holding `bowline` (init and proxy containers). */
  image: string;
  /** The control plane's TLS push address as pods reach it (HOST:PORT). */
  server: string;
  identity: IdentitySource;
  /** The proxy as a native sidecar (init container with restartPolicy Always; Kubernetes 1.29+). */
  nativeSidecar?: boolean;
  /** Revision recorded in the status annotation (default `default`). */
  revision?: string;
  /** Pull policy of the added containers (default IfNotPresent). */
  imagePullPolicy?: string;
}

/** A pod that cannot be injected: the message says why. */
export class InjectError extends Error {
  readonly code = 'BOWLINE_E_KUBE_INJECT';
  override name = 'InjectError';
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Json => (isObj(v) ? v : {});
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as unknown[]).filter(isObj) : []);
const strMap = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries(obj(v)).filter(([, x]) => typeof x === 'string')) as Record<string, string>;

/** True when the pod (metadata + spec) already carries Bowline's or Istio's sidecar. */
export function alreadyInjected(meta: Json, spec: Json): boolean {
  if (strMap(meta['annotations'])[STATUS_ANNOTATION] !== undefined) return true;
  return [...arr(spec['containers']), ...arr(spec['initContainers'])].some((c) => c['name'] === PROXY_CONTAINER);
}

/** Why this pod must not get a sidecar, or undefined: opted out, host network, already injected. */
export function skipReason(meta: Json, spec: Json): string | undefined {
  if (alreadyInjected(meta, spec)) return 'already injected (sidecar.istio.io/status or an istio-proxy container)';
  const optOut = strMap(meta['labels'])[INJECT_KEY] ?? strMap(meta['annotations'])[INJECT_KEY];
  if (optOut !== undefined && /^(false|n|no|off|0)$/i.test(optOut)) return `${INJECT_KEY}: "${optOut}"`;
  if (spec['hostNetwork'] === true) return 'hostNetwork pod: capture would take the node\'s traffic';
  return undefined;
}

function portNumber(container: Json, port: unknown, where: string): number {
  if (typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536) return port;
  if (typeof port === 'string' && /^\d+$/.test(port)) return portNumber(container, Number(port), where);
  if (typeof port === 'string') {
    const named = arr(container['ports']).find((p) => p['name'] === port);
    if (named && typeof named['containerPort'] === 'number') return named['containerPort'];
    throw new InjectError(`${where}: port "${port}" names no port of container "${String(container['name'])}"`);
  }
  throw new InjectError(`${where}: port ${JSON.stringify(port)} is not a port number or name`);
}

const PROBES: Array<[string, string]> = [['readinessProbe', 'readyz'], ['livenessProbe', 'livez'], ['startupProbe', 'startupz']];

/** Rewrites HTTP and TCP probes to the health port; returns the originals (ports resolved) by rewritten path. */
function rewriteProbes(containers: Json[]): { containers: Json[]; probers: Record<string, Json> } {
  const probers: Record<string, Json> = {};
  const out = containers.map((c) => {
    const copy: Json = { ...c };
    for (const [field, suffix] of PROBES) {
      const probe = c[field];
      if (!isObj(probe)) continue;
      const name = String(c['name'] ?? '');
      const path = `/app-health/${name}/${suffix}`;
      const where = `container "${name}" ${field}`;
      const timeoutSeconds = typeof probe['timeoutSeconds'] === 'number' ? probe['timeoutSeconds'] : 1;
      let original: Json | undefined;
      if (isObj(probe['httpGet'])) {
        const h = probe['httpGet'];
        original = { httpGet: { ...h, port: portNumber(c, h['port'], where) }, timeoutSeconds };
      } else if (isObj(probe['tcpSocket'])) {
        original = { tcpSocket: { port: portNumber(c, probe['tcpSocket']['port'], where) }, timeoutSeconds };
      }
      if (!original) continue; // exec and grpc probes run where they always did
      probers[path] = original;
      const rest = Object.fromEntries(Object.entries(probe).filter(([k]) => k !== 'httpGet' && k !== 'tcpSocket'));
      copy[field] = { ...rest, httpGet: { path, port: HEALTH_PORT, scheme: 'HTTP' } };
    }
    return copy;
  });
  return { containers: out, probers };
}

const PROTOCOLS = ['HTTP', 'HTTP2', 'GRPC', 'TCP', 'TLS', 'HTTPS', 'MONGO'];

/** `--service NAME:PORT/PROTOCOL` for every TCP port of the app containers (Istio's port-name convention gives the protocol). */
function servicePorts(containers: Json[], service: string): string[] {
  const out: string[] = [];
  const seen = new Set<number>();
  for (const c of containers) {
    for (const p of arr(c['ports'])) {
      const port = p['containerPort'];
      if (typeof port !== 'number' || seen.has(port) || (p['protocol'] !== undefined && p['protocol'] !== 'TCP')) continue;
      seen.add(port);
      const prefix = String(p['name'] ?? '').split('-')[0]!.toUpperCase();
      out.push(`${service}:${port}/${PROTOCOLS.includes(prefix) ? prefix : 'TCP'}`);
    }
  }
  return out;
}

const ANNOTATION_FLAGS: Array<[string, string]> = [
  ['traffic.sidecar.istio.io/includeInboundPorts', '--include-inbound-ports'],
  ['traffic.sidecar.istio.io/excludeInboundPorts', '--exclude-inbound-ports'],
  ['traffic.sidecar.istio.io/includeOutboundIPRanges', '--include-cidrs'],
  ['traffic.sidecar.istio.io/excludeOutboundIPRanges', '--exclude-cidrs'],
  ['traffic.sidecar.istio.io/excludeOutboundPorts', '--exclude-outbound-ports'],
];

function captureArgs(annotations: Record<string, string>): string[] {
  const args = ['capture', 'install', '--proxy-uid', String(PROXY_UID), '--proxy-gid', String(PROXY_UID)];
  const given = new Map(ANNOTATION_FLAGS.filter(([a]) => annotations[a] !== undefined).map(([a, f]) => [f, annotations[a]!.replace(/\s+/g, '')]));
  given.set('--include-inbound-ports', given.get('--include-inbound-ports') || '*');
  for (const [, flag] of ANNOTATION_FLAGS) if (given.get(flag)) args.push(flag, given.get(flag)!);
  args.push('--dns'); // the app's DNS goes to the proxy's DNS proxy (on with --capture), which knows mesh names
  return args;
}

/** Workload labels for the proxy's `--labels` (Kubernetes label values hold no commas), sorted. */
function labelArg(labels: Record<string, string>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',');
}

/**
 * Injects one pod given its metadata and spec (a Pod, or a workload's pod template). The proxy
 * learns its pod's name, namespace and IP from the downward API. Returns copies; the inputs are
 * never changed.
 */
export function injectPod(meta: Json, spec: Json, opts: InjectOptions): { meta: Json; spec: Json } | { skipped: string } {
  const why = skipReason(meta, spec);
  if (why) return { skipped: why };
  const labels = strMap(meta['labels']);
  const annotations = strMap(meta['annotations']);
  const appContainers = arr(spec['containers']);
  if (appContainers.length === 0) throw new InjectError('the pod has no containers');
  const serviceAccount = typeof spec['serviceAccountName'] === 'string' && spec['serviceAccountName'] ? spec['serviceAccountName'] : 'default';
  const service = labels['app'] ?? labels['app.kubernetes.io/name'] ?? String(meta['name'] ?? meta['generateName'] ?? 'workload').replace(/-+$/, '');
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(service) || service.length > 63) throw new InjectError(`service name "${service}" (label app, or the pod's name) is not a DNS label`);
  const { containers: rewritten, probers } = rewriteProbes(appContainers);
  const image = opts.image;
  const pull = opts.imagePullPolicy ?? 'IfNotPresent';
  const id = opts.identity;
  const tokenFile = id.kind === 'minted' ? `${TOKEN_DIR}/token` : id.kind === 'projected' ? `${PROJECTED_DIR}/${PROJECTED_VOLUME}` : `${JOIN_DIR}/${id.key ?? 'token'}`;
  const volumeName = id.kind === 'minted' ? TOKEN_VOLUME : id.kind === 'projected' ? PROJECTED_VOLUME : JOIN_VOLUME;

  const proxyArgs = ['proxy', '--server', opts.server, '--token-file', tokenFile,
    '--name', '$(POD_NAME)', '--namespace', '$(POD_NAMESPACE)', '--service-account', serviceAccount,
    ...(Object.keys(labels).length ? ['--labels', labelArg(labels)] : []),
    ...servicePorts(appContainers, service).flatMap((s) => ['--service', s]),
    '--endpoints-from', 'platform', '--capture', 'iptables', '--address', '$(POD_IP)', '--id', '$(POD_NAME).$(POD_NAMESPACE)',
    '--health-port', String(HEALTH_PORT), '--metrics-address', '0.0.0.0'];
  if (Object.keys(probers).length) proxyArgs.push('--app-probers', JSON.stringify(probers));
  const proxy: Json = {
    name: PROXY_CONTAINER,
    image,
    imagePullPolicy: pull,
    command: ['bowline'],
    args: proxyArgs,
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      ...(id.kind === 'projected' ? [{ name: 'BOWLINE_CA_ROOT_HASH', value: id.rootHash }] : []),
    ],
    ports: [
      { name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' },
      { name: 'status-port', containerPort: HEALTH_PORT, protocol: 'TCP' },
    ],
    readinessProbe: { httpGet: { path: '/healthz/ready', port: HEALTH_PORT, scheme: 'HTTP' }, periodSeconds: 2, failureThreshold: 30, timeoutSeconds: 3 },
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } },
    securityContext: {
      runAsUser: PROXY_UID, runAsGroup: PROXY_UID, runAsNonRoot: true, allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [{ name: volumeName, mountPath: id.kind === 'minted' ? TOKEN_DIR : id.kind === 'projected' ? PROJECTED_DIR : JOIN_DIR, readOnly: true }],
    ...(opts.nativeSidecar ? { restartPolicy: 'Always' } : {}),
  };
  const init: Json = {
    name: INIT_CONTAINER,
    image,
    imagePullPolicy: pull,
    command: ['bowline'],
    args: captureArgs(annotations),
    resources: { requests: { cpu: '10m', memory: '40Mi' }, limits: { cpu: '2', memory: '1Gi' } },
    securityContext: {
      runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: false, privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
  const volume: Json = id.kind === 'minted'
    ? { name: TOKEN_VOLUME, downwardAPI: { items: [{ path: 'token', fieldRef: { fieldPath: `metadata.annotations['${TOKEN_ANNOTATION}']` } }] } }
    : id.kind === 'projected'
      ? { name: PROJECTED_VOLUME, projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: PROJECTED_VOLUME } }] } }
      : { name: JOIN_VOLUME, secret: { secretName: id.secretName ?? `bowline-join-${serviceAccount}`, optional: false } };

  const initContainers = [init, ...(opts.nativeSidecar ? [proxy] : []), ...arr(spec['initContainers'])];
  const containers = opts.nativeSidecar ? rewritten : [proxy, ...rewritten];
  const status = {
    initContainers: initContainers.slice(0, opts.nativeSidecar ? 2 : 1).map((c) => c['name']),
    containers: opts.nativeSidecar ? [] : [PROXY_CONTAINER],
    volumes: [volume['name']],
    imagePullSecrets: null,
    revision: opts.revision ?? 'default',
  };
  const newAnnotations: Record<string, string> = {
    ...annotations,
    [STATUS_ANNOTATION]: JSON.stringify(status),
    ...(id.kind === 'minted' ? { [TOKEN_ANNOTATION]: id.token } : {}),
  };
  const newLabels = { ...labels, 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-name': labels['service.istio.io/canonical-name'] ?? service, 'service.istio.io/canonical-revision': labels['service.istio.io/canonical-revision'] ?? labels['version'] ?? 'latest' };
  return {
    meta: { ...meta, labels: newLabels, annotations: newAnnotations },
    spec: { ...spec, initContainers, containers, volumes: [...arr(spec['volumes']), volume] },
  };
}

/** One RFC 6902 operation. */
export interface PatchOp {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

/**
 * The JSONPatch that turns `before` into `after` for the fields injection changes: whole
 * `metadata.labels`, `metadata.annotations`, `spec.initContainers`, `spec.containers`,
 * `spec.volumes` (`add` of an existing member replaces it, RFC 6902 4.1).
 */
export function podPatch(before: { meta: Json; spec: Json }, after: { meta: Json; spec: Json }): PatchOp[] {
  const ops: PatchOp[] = [];
  const field = (path: string, a: Json, b: Json, key: string) => {
    if (JSON.stringify(a[key]) === JSON.stringify(b[key])) return;
    ops.push({ op: 'add', path: `${path}/${key}`, value: b[key] });
  };
  for (const k of ['labels', 'annotations']) field('/metadata', before.meta, after.meta, k);
  for (const k of ['initContainers', 'containers', 'volumes']) field('/spec', before.spec, after.spec, k);
  return ops;
}
