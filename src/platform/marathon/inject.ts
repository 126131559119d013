/**
 * `bowline marathon inject`: adds the Bowline proxy to Marathon definitions, offline.
 *
 * - A pod gets a `bowline-proxy` container that sets up transparent capture in the pod's network
 *   namespace (`bowline capture install`, as the DC/OS seed's pods ran `istio-iptables.sh`), then
 *   runs the proxy as the unprivileged proxy user. Capture needs the pod on a container network
 *   (its own network namespace): a host-network pod is refused (capturing would take the agent's
 *   traffic), with `--explicit` as the way out.
 * - An app becomes a pod with the same container (Marathon apps have one container, and the proxy
 *   needs a second), unless `--explicit`: then the app stays an app, its command starts the proxy
 *   beside it and the app talks to it through `HTTP_PROXY`; the proxy's inbound port is a port of
 *   its own labelled `bowline.io/inbound-for: PORTNAME`, which the Marathon registry reports as the
 *   endpoint of that port.
 * - A group (`/v2/groups` JSON) has each of its apps and pods injected, recursively.
 *
 * Identity: every instance gets its own certificate with no human step. The pod carries a join
 * token as a DC/OS secret (`--join-secret`); it is a reusable token scoped to one namespace and
 * service account, bounded in time and in uses (`bowline token create --reusable`). We chose
 * that over "identity checked against Marathon's task list" because a task id is not a secret:
 * any process on an agent can read the task ids running there, while a secret is delivered only to
 * the tasks that reference it (docs/platforms/marathon.md).
 *
 * Injection is idempotent: a definition that already has the proxy (the `bowline.io/proxy`
 * label) comes back unchanged, so inject(inject(x)) == inject(x).
 */

/** A Marathon definition as parsed JSON. */
export type Json = Record<string, unknown>;

/** How to inject. */
export interface InjectOptions {
  /** Control plane TLS push address as tasks reach it. */
  server: string;
  /** DC/OS secret path holding the join token (default `bowline/join/NAMESPACE-SA`). */
  joinSecret?: string;
  /** Label holding the service name (default `istio`). */
  serviceLabel?: string;
  /** Service account of the workloads (default: the service name). */
  serviceAccount?: string;
  /** Proxy container image (pods). */
  image: string;
  /** Keep apps as apps and use HTTP_PROXY instead of capture. */
  explicit?: boolean;
  /** Uid the proxy runs as (exempt from capture). */
  proxyUid?: number;
  cpus?: number;
  mem?: number;
}

/** A definition that cannot be injected; the message says why and what to do. */
export class InjectError extends Error {
  readonly code = 'BOWLINE_E_MARATHON_INJECT';
  override name = 'InjectError';
}

import { INBOUND_FOR_LABEL, PROXY_CONTAINER, PROXY_LABEL, SERVICE_ACCOUNT_LABEL } from '../../registry/marathon/translate.js';
const SECRET_NAME = 'bowline-join';
const DEFAULT_UID = 1337;

/** What an injection did: the new definition and the fields it could not carry over (never dropped silently). */
export interface Injected {
  definition: Json;
  notes: string[];
}

/** Injects an app, pod or group. */
export function inject(def: Json, opts: InjectOptions): Injected {
  const notes: string[] = [];
  return { definition: injectAny(def, opts, notes), notes };
}

function injectAny(def: Json, opts: InjectOptions, notes: string[]): Json {
  if (typeof def !== 'object' || def === null || Array.isArray(def)) throw new InjectError('expected a JSON object: a Marathon app, pod or group');
  if (typeof def['id'] !== 'string') throw new InjectError('the definition has no "id"');
  if (Array.isArray(def['apps']) || Array.isArray(def['pods']) || Array.isArray(def['groups'])) return injectGroup(def, opts, notes);
  if (Array.isArray(def['containers'])) return injectPod(def, opts);
  return opts.explicit ? injectAppExplicit(def, opts) : injectPod(appToPod(def, notes), opts);
}

function injectGroup(g: Json, opts: InjectOptions, notes: string[]): Json {
  const out: Json = { ...g };
  const pods = ((g['pods'] as Json[] | undefined) ?? []).map((p) => injectPod(p, opts));
  const keptApps: Json[] = [];
  for (const a of (g['apps'] as Json[] | undefined) ?? []) {
    const r = injectAny(a, opts, notes);
    if (Array.isArray(r['containers'])) pods.push(r);
    else keptApps.push(r);
  }
  if ('apps' in g) out['apps'] = keptApps;
  if ('pods' in g || pods.length) out['pods'] = pods;
  if (Array.isArray(g['groups'])) out['groups'] = (g['groups'] as Json[]).map((x) => injectGroup(x, opts, notes));
  return out;
}

function labelsOf(def: Json): Record<string, string> {
  const l = def['labels'];
  return l && typeof l === 'object' && !Array.isArray(l) ? (l as Record<string, string>) : {};
}

/** Namespace and workload name of an id (`/bookinfo/reviews-v1` -> bookinfo, reviews-v1), as the registry names them. */
function place(id: string): { namespace: string; name: string } {
  const segs = id.split('/').filter(Boolean);
  const name = segs.pop() ?? '';
  return { namespace: segs.length ? segs.join('-') : 'default', name };
}

function identity(def: Json, opts: InjectOptions): { service: string; namespace: string; name: string; sa: string; labels: Record<string, string> } {
  const id = def['id'] as string;
  const labels = labelsOf(def);
  const key = opts.serviceLabel ?? 'istio';
  const { namespace, name } = place(id);
  const service = labels[key] ?? name;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(service)) throw new InjectError(`${id}: service name "${service}" (label ${key} or the id) is not a DNS label`);
  return { service, namespace, name, sa: opts.serviceAccount ?? labels[SERVICE_ACCOUNT_LABEL] ?? service, labels };
}

function meshLabels(def: Json, id: { service: string; sa: string }, opts: InjectOptions): Record<string, string> {
  const key = opts.serviceLabel ?? 'istio';
  const labels = { ...labelsOf(def) };
  labels[key] ??= id.service;
  labels[PROXY_LABEL] = 'sidecar';
  labels[SERVICE_ACCOUNT_LABEL] = id.sa;
  return labels;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function proxyCommand(parts: string[]): string {
  return parts.map(shellQuote).join(' ');
}

/** Service ports of a pod's app containers: `NAME:PORT/PROTOCOL` for `--service`, and the ports capture takes inbound. */
function podServicePorts(pod: Json, service: string): { specs: string[]; ports: number[] } {
  const specs: string[] = [];
  const ports: number[] = [];
  for (const c of (pod['containers'] as Json[]) ?? []) {
    if (c['name'] === PROXY_CONTAINER) continue;
    for (const e of (c['endpoints'] as Json[] | undefined) ?? []) {
      const port = Number(e['containerPort'] ?? 0);
      if (!port) continue;
      const name = String(e['name'] ?? '');
      const proto = name.split('-')[0]!.toUpperCase();
      specs.push(`${service}:${port}/${['HTTP', 'HTTP2', 'GRPC', 'TCP', 'TLS', 'HTTPS', 'MONGO'].includes(proto) ? proto : 'TCP'}`);
      ports.push(port);
    }
  }
  return { specs, ports };
}

function injectPod(pod: Json, opts: InjectOptions): Json {
  if (labelsOf(pod)[PROXY_LABEL] === 'sidecar' || ((pod['containers'] as Json[]) ?? []).some((c) => c['name'] === PROXY_CONTAINER)) return pod;
  const id = identity(pod, opts);
  const mode = ((pod['networks'] as Json[] | undefined)?.[0]?.['mode'] as string | undefined) ?? 'host';
  const uid = opts.proxyUid ?? DEFAULT_UID;
  const { specs, ports } = podServicePorts(pod, id.service);
  const secretPath = opts.joinSecret ?? `bowline/join/${id.namespace}-${id.sa}`;
  const labels = meshLabels(pod, id, opts);
  const labelArg = Object.entries({ app: labels['app'] ?? id.service, ...(labels['version'] ? { version: labels['version'] } : {}) }).map(([k, v]) => `${k}=${v}`).join(',');
  const proxyArgs = ['bowline', 'proxy', '--server', opts.server, '--name', id.name, '--namespace', id.namespace,
    '--service-account', id.sa, '--labels', labelArg, ...specs.flatMap((s) => ['--service', s]), '--endpoints-from', 'platform'];
  const tail = '--token-file "$MESOS_SANDBOX/bowline.token" --id "$MESOS_TASK_ID"'; // expanded by the task's shell
  let shell: string;
  const env: Json = { BOWLINE_JOIN_TOKEN: { secret: SECRET_NAME } };
  if (mode === 'host') {
    if (!opts.explicit) throw new InjectError(`${String(pod['id'])} uses host networking: capture would take the whole agent's traffic. Put the pod on a container network ("networks": [{"mode": "container", "name": "dcos"}]) or inject with --explicit (HTTP_PROXY, no capture)`);
    // Explicit pods: the proxy listens on its own endpoints; app containers get HTTP_PROXY.
    shell = `printf %s "$BOWLINE_JOIN_TOKEN" > "$MESOS_SANDBOX/bowline.token" && exec ${proxyCommand([...proxyArgs, '--outbound-port', '15001'])} ${tail}`;
  } else {
    // --dns: the app's lookups go to the proxy's DNS proxy (mesh names from the name table; everything else,
    // Mesos-DNS names included, forwarded to the container's resolv.conf resolvers). The proxy's DNS is on with --capture.
    const capture = ['bowline', 'capture', 'install', '--proxy-uid', String(uid), '--include-inbound-ports', ports.length ? ports.join(',') : '*', '--dns'];
    shell = `${proxyCommand(capture)} && printf %s "$BOWLINE_JOIN_TOKEN" > "$MESOS_SANDBOX/bowline.token" && chown ${uid} "$MESOS_SANDBOX/bowline.token" && exec setpriv --reuid=${uid} --regid=${uid} --clear-groups ${proxyCommand([...proxyArgs, '--capture', 'iptables'])} ${tail}`;
  }
  const proxy: Json = {
    name: PROXY_CONTAINER,
    resources: { cpus: opts.cpus ?? 0.1, mem: opts.mem ?? 128 },
    image: { kind: 'DOCKER', id: opts.image },
    user: 'root',
    exec: { command: { shell } },
    environment: env,
    endpoints: [{ name: 'bowline-admin', containerPort: 15000 }, { name: 'bowline-metrics', containerPort: 15090 }],
  };
  const containers = ((pod['containers'] as Json[]) ?? []).map((c) => (mode === 'host' ? { ...c, environment: { ...((c['environment'] as Json | undefined) ?? {}), HTTP_PROXY: 'http://127.0.0.1:15001', http_proxy: 'http://127.0.0.1:15001' } } : c));
  return { ...pod, labels, containers: [...containers, proxy], secrets: { ...((pod['secrets'] as Json | undefined) ?? {}), [SECRET_NAME]: { source: secretPath } } };
}

/** Fields of an app a pod has no place for; reported, never dropped silently. */
const APP_ONLY = ['args', 'backoffFactor', 'backoffSeconds', 'maxLaunchDelaySeconds', 'dependencies', 'readinessChecks', 'upgradeStrategy', 'unreachableStrategy', 'killSelection', 'taskKillGracePeriodSeconds', 'requirePorts', 'ipAddress', 'residency', 'gpus', 'executor', 'acceptedResourceRoles'];
const APP_FIELDS = new Set(['id', 'cmd', 'cpus', 'mem', 'disk', 'instances', 'labels', 'env', 'container', 'networks', 'portDefinitions', 'healthChecks', 'constraints', 'fetch', 'uris', 'user', 'secrets', 'role', 'version', 'versionInfo', 'tasks', 'tasksRunning', 'tasksStaged', 'tasksHealthy', 'tasksUnhealthy', 'deployments', ...APP_ONLY]);

/** An app as a pod with the same container (the proxy container is added after). */
export function appToPod(app: Json, notes: string[]): Json {
  const id = app['id'] as string;
  const container = (app['container'] as Json | undefined) ?? {};
  const docker = (container['docker'] as Json | undefined) ?? {};
  let networks = app['networks'] as Json[] | undefined;
  if (!networks) {
    const legacy = String(docker['network'] ?? 'HOST').toUpperCase();
    networks = [{ mode: legacy === 'BRIDGE' ? 'container/bridge' : legacy === 'USER' ? 'container' : 'host' }];
  }
  const mode = networks[0]?.['mode'] ?? 'host';
  const mappings = ((container['portMappings'] ?? docker['portMappings']) as Json[] | undefined) ?? [];
  const endpoints: Json[] = mode === 'host'
    ? ((app['portDefinitions'] as Json[] | undefined) ?? []).map((p, i) => ({ name: p['name'] ?? `port${i}`, hostPort: p['port'] ?? 0, ...(p['protocol'] ? { protocol: [p['protocol']] } : {}), ...(p['labels'] ? { labels: p['labels'] } : {}) }))
    : mappings.map((m, i) => ({ name: m['name'] ?? `port${i}`, containerPort: m['containerPort'] ?? 0, ...(m['hostPort'] !== undefined ? { hostPort: m['hostPort'] } : {}), ...(m['protocol'] ? { protocol: [m['protocol']] } : {}), ...(m['labels'] ? { labels: m['labels'] } : {}) }));
  const c: Json = { name: 'app', resources: { cpus: app['cpus'] ?? 1, mem: app['mem'] ?? 128, ...(app['disk'] ? { disk: app['disk'] } : {}) } };
  if (typeof app['cmd'] === 'string') c['exec'] = { command: { shell: app['cmd'] } };
  if (typeof docker['image'] === 'string') c['image'] = { kind: 'DOCKER', id: docker['image'], ...(docker['forcePullImage'] ? { forcePull: true } : {}) };
  if (endpoints.length) c['endpoints'] = endpoints;
  const uris = [...(((app['fetch'] as Json[] | undefined) ?? []).map((f) => f['uri'])), ...(((app['uris'] as string[] | undefined) ?? []))].filter((u) => typeof u === 'string');
  if (uris.length) c['artifacts'] = uris.map((uri) => ({ uri }));
  const hc = ((app['healthChecks'] as Json[] | undefined) ?? [])[0];
  if (hc) {
    const proto = String(hc['protocol'] ?? 'HTTP').toUpperCase();
    const idx = Number(hc['portIndex'] ?? 0);
    const ep = (endpoints[idx]?.['name'] as string | undefined) ?? (hc['portName'] as string | undefined);
    if (proto.includes('HTTP') && ep) c['healthCheck'] = { http: { endpoint: ep, path: hc['path'] ?? '/' }, gracePeriodSeconds: hc['gracePeriodSeconds'] ?? 300, intervalSeconds: hc['intervalSeconds'] ?? 60, maxConsecutiveFailures: hc['maxConsecutiveFailures'] ?? 3, timeoutSeconds: hc['timeoutSeconds'] ?? 20 };
    else if (proto.includes('TCP') && ep) c['healthCheck'] = { tcp: { endpoint: ep } };
    else if (proto === 'COMMAND' && hc['command']) c['healthCheck'] = { exec: { command: { shell: (hc['command'] as Json)['value'] } } };
    else notes.push(`${id}: health check ${proto} was not carried over (no pod equivalent)`);
    if (((app['healthChecks'] as Json[]).length ?? 0) > 1) notes.push(`${id}: only the first health check was carried over (a pod container has one)`);
  }
  const pod: Json = { id, labels: labelsOf(app), containers: [c], networks, scaling: { kind: 'fixed', instances: app['instances'] ?? 1 } };
  if (app['env']) pod['environment'] = app['env'];
  if (app['secrets']) pod['secrets'] = app['secrets'];
  if (app['user']) pod['user'] = app['user'];
  if (Array.isArray(app['constraints']) && (app['constraints'] as unknown[]).length) {
    pod['scheduling'] = { placement: { constraints: (app['constraints'] as string[][]).map((k) => ({ fieldName: k[0], operator: k[1], ...(k[2] !== undefined ? { value: k[2] } : {}) })) } };
  }
  for (const k of Object.keys(app)) if (!APP_FIELDS.has(k) || APP_ONLY.includes(k)) notes.push(`${id}: "${k}" was not carried over to the pod (pods have no such field); check the result`);
  return pod;
}

function injectAppExplicit(app: Json, opts: InjectOptions): Json {
  if (labelsOf(app)[PROXY_LABEL] === 'sidecar') return app;
  const id = identity(app, opts);
  const container = (app['container'] as Json | undefined) ?? {};
  const docker = (container['docker'] as Json | undefined) ?? {};
  const usesMappings = Array.isArray(container['portMappings']) || Array.isArray(docker['portMappings']);
  if (usesMappings) throw new InjectError(`${String(app['id'])}: --explicit injects host-network apps (portDefinitions); an app with portMappings: inject it as a pod (without --explicit)`);
  const defs = ((app['portDefinitions'] as Json[] | undefined) ?? []).map((p) => ({ ...p }));
  if (defs.length === 0) throw new InjectError(`${String(app['id'])} has no portDefinitions: nothing for the mesh to reach`);
  const n = defs.length;
  // Port i of the app stays where it is ($PORTi, the app listens there); the proxy gets one inbound port per mesh port and one outbound port.
  const inbound = defs.map((p, i) => ({ port: 0, name: `bowline-in-${String(p['name'] ?? `port${i}`)}`.slice(0, 63), protocol: 'tcp', labels: { [INBOUND_FOR_LABEL]: String(p['name'] ?? `port${i}`) } }));
  const services = defs.map((p, i) => {
    const proto = String(p['name'] ?? '').split('-')[0]!.toUpperCase();
    return `--service ${id.service}:${Number(p['port']) || 0}/${['HTTP', 'HTTP2', 'GRPC', 'TCP'].includes(proto) ? proto : 'TCP'}@$PORT${i} --bind-port ${Number(p['port']) || 0}=$PORT${n + i}`;
  });
  const unnumbered = defs.find((p) => !Number(p['port']));
  if (unnumbered) throw new InjectError(`${String(app['id'])}: port "${String(unnumbered['name'] ?? '')}" has no fixed service port ("port": 0); give each mesh port its number (e.g. 9080)`);
  const labels = meshLabels(app, id, opts);
  const labelArg = `app=${labels['app'] ?? id.service}${labels['version'] ? `,version=${labels['version']}` : ''}`;
  const proxy = `printf %s "$BOWLINE_JOIN_TOKEN" > "$MESOS_SANDBOX/bowline.token" && bowline proxy --server ${shellQuote(opts.server)} --token-file "$MESOS_SANDBOX/bowline.token" --name ${id.name} --namespace ${id.namespace} --service-account ${id.sa} --labels ${labelArg} ${services.join(' ')} --outbound-port $PORT${2 * n} --endpoints-from platform --id "$MESOS_TASK_ID" &`;
  const original = typeof app['cmd'] === 'string' ? app['cmd'] : undefined;
  if (!original) throw new InjectError(`${String(app['id'])} has no "cmd": --explicit wraps the command to start the proxy beside it`);
  const env = { ...((app['env'] as Json | undefined) ?? {}), BOWLINE_JOIN_TOKEN: { secret: SECRET_NAME } };
  const secretPath = opts.joinSecret ?? `bowline/join/${id.namespace}-${id.sa}`;
  return {
    ...app,
    labels,
    cmd: `${proxy} export HTTP_PROXY=http://127.0.0.1:$PORT${2 * n} http_proxy=http://127.0.0.1:$PORT${2 * n}; ${original}`,
    portDefinitions: [...defs, ...inbound, { port: 0, name: 'bowline-outbound', protocol: 'tcp' }],
    env,
    secrets: { ...((app['secrets'] as Json | undefined) ?? {}), [SECRET_NAME]: { source: secretPath } },
  };
}
