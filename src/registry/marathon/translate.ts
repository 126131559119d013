/**
 * Marathon apps and pods as mesh services, endpoints and workloads. Pure: the registry feeds it
 * what Marathon answered (and the agent host names it resolved) and gets a view back.
 *
 * Names (docs/platforms/marathon.md): a group path is a namespace (`/bookinfo/reviews` ->
 * namespace `bookinfo`; nested groups are joined with `-`; top-level apps are in `default`); the
 * service name is the app's service label (default `istio`, the seed's) or, with an empty label
 * setting, the last segment of the app id. A service answers to its Bowline names
 * (`reviews.bookinfo.svc.cluster.local`, ...) and to the names Mesos-DNS gives it in every
 * configured Mesos domain (`reviews-bookinfo.marathon.slave.mesos`, top-level
 * `reviews.marathon.slave.mesos`), plus DC/OS named VIPs (`VIP_n` port labels).
 */
import { isIP } from 'node:net';
import { parseProtocol, serviceAliases, serviceHostname, type DomainSettings, type Endpoint, type Protocol, type Service, type Workload } from '../../model/service.js';
import type { RegistryView } from '../registry.js';
import type { MarathonApp, MarathonLabels, MarathonPodStatus, MarathonTask } from './types.js';

/** How Marathon objects become mesh names. */
export interface MarathonNaming {
  /** Label whose value is the service name; `''` takes the last segment of the app id. */
  serviceLabel: string;
  /** Bowline's host-name domains (`name.ns.svc.DOMAIN`). */
  domains: DomainSettings;
  /** Mesos-DNS domains (default `marathon.mesos`, `marathon.slave.mesos`). */
  mesosDomains: string[];
  /** The registry's source name (`marathon`, or `marathon/NAME` with several Marathons). */
  source: string;
}

/** Default Mesos-DNS domains. */
export const DEFAULT_MESOS_DOMAINS = ['marathon.mesos', 'marathon.slave.mesos'];

/** Label an injected definition carries: `sidecar` when a Bowline proxy terminates its traffic. */
export const PROXY_LABEL = 'bowline.io/proxy';
/** Label naming the service account of an injected definition's workload identity. */
export const SERVICE_ACCOUNT_LABEL = 'bowline.io/service-account';
/** Label on a proxy's inbound port (`bowline marathon inject --explicit`) naming the app port it stands for. */
export const INBOUND_FOR_LABEL = 'bowline.io/inbound-for';
/** Name of the proxy container `bowline marathon inject` adds to a pod. */
export const PROXY_CONTAINER = 'bowline-proxy';

/** Where an app or pod id lands: its namespace, its own name, and its Mesos-DNS label. */
export function placeId(id: string): { namespace: string; name: string; groups: string[] } {
  const segs = id.split('/').filter((s) => s.length > 0);
  const name = segs.pop() ?? '';
  return { namespace: segs.length > 0 ? segs.join('-') : 'default', name, groups: segs };
}

/** The Mesos-DNS host label of a service `name` under `groups` (`reviews` under `bookinfo` -> `reviews-bookinfo`). */
export function mesosDnsLabel(name: string, groups: string[]): string {
  return [name, ...[...groups].reverse()].join('-');
}

/** Why an app or pod is not in the mesh (for a debug line), or its service name. */
export function serviceNameOf(id: string, labels: MarathonLabels | undefined, naming: MarathonNaming): { service: string } | { skip: string } {
  if (naming.serviceLabel === '') return { service: placeId(id).name };
  const v = labels?.[naming.serviceLabel];
  if (typeof v === 'string' && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v)) return { service: v };
  if (v === undefined) return { skip: `${id} has no "${naming.serviceLabel}" label` };
  return { skip: `${id}: label ${naming.serviceLabel}="${v}" is not a DNS label` };
}

/** A port's protocol: the `protocol` label, else Istio's port-name convention (`http`, `grpc-x`), else TCP. */
function portProtocol(name: string | undefined, labels: MarathonLabels | undefined): Protocol {
  const label = labels?.['protocol'] ?? labels?.['bowline.io/protocol'];
  if (label) return parseProtocol(label);
  if (!name) return 'TCP';
  return parseProtocol(name.split('-')[0]);
}

/** DC/OS named VIPs of a port (`VIP_0: /bookinfo/reviews:9080` -> `bookinforeviews.marathon.l4lb.thisdcos.directory`) and IP VIPs. */
function vips(labels: MarathonLabels | undefined): { names: string[]; addresses: string[] } {
  const names: string[] = [];
  const addresses: string[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (!/^VIP_\d+$/.test(k) || typeof v !== 'string') continue;
    const host = v.replace(/:\d+$/, '');
    if (isIP(host)) addresses.push(host);
    else if (host.length > 0) names.push(`${host.replace(/\//g, '').toLowerCase()}.marathon.l4lb.thisdcos.directory`);
  }
  return { names, addresses };
}

/** One service port and where each instance serves it. */
interface PortPlan {
  name: string;
  servicePort: number;
  protocol: Protocol;
  labels?: MarathonLabels;
  /** The endpoint of this port on one task, or undefined when the task does not expose it. */
  endpointOf(task: MarathonTask): { address: string; port: number } | undefined;
}

function networkMode(app: MarathonApp): 'host' | 'container' | 'container/bridge' {
  const m = app.networks?.[0]?.mode;
  if (m) return m;
  const legacy = app.container?.docker?.network?.toUpperCase();
  if (legacy === 'BRIDGE') return 'container/bridge';
  if (legacy === 'USER') return 'container';
  return 'host';
}

function appPorts(app: MarathonApp, hostAddress: (host: string | undefined) => string | undefined): PortPlan[] {
  const mode = networkMode(app);
  if (mode === 'host') {
    const defs = app.portDefinitions ?? [];
    // An injected app (--explicit) serves each mesh port on its proxy's inbound port, labelled with the port it stands for.
    const injected = app.labels?.[PROXY_LABEL] === 'sidecar';
    const inboundIndex = (name: string | undefined) => (injected && name ? defs.findIndex((d) => d.labels?.[INBOUND_FOR_LABEL] === name) : -1);
    return defs.flatMap((pd, i) => {
      if (!pd.port || pd.labels?.[INBOUND_FOR_LABEL] !== undefined || (injected && pd.name?.startsWith('bowline-'))) return [];
      const j = inboundIndex(pd.name);
      const at = j >= 0 ? j : i;
      return [{ name: pd.name ?? `tcp-${pd.port}`, servicePort: pd.port, protocol: portProtocol(pd.name, pd.labels), ...(pd.labels ? { labels: pd.labels } : {}),
        endpointOf: (t: MarathonTask) => { const a = hostAddress(t.host); const p = t.ports?.[at]; return a && p ? { address: a, port: p } : undefined; } }];
    });
  }
  const mappings = app.container?.portMappings ?? app.container?.docker?.portMappings ?? [];
  let hostIndex = 0;
  return mappings.flatMap((pm) => {
    const hi = pm.hostPort !== undefined ? hostIndex++ : -1;
    const servicePort = pm.servicePort || pm.containerPort || 0;
    if (!servicePort) return [];
    const base = { name: pm.name ?? `tcp-${servicePort}`, servicePort, protocol: portProtocol(pm.name, pm.labels), ...(pm.labels ? { labels: pm.labels } : {}) };
    if (mode === 'container' && pm.containerPort) {
      const cp = pm.containerPort;
      return [{ ...base, endpointOf: (t: MarathonTask) => { const ip = t.ipAddresses?.[0]?.ipAddress; return ip ? { address: ip, port: cp } : undefined; } }];
    }
    if (hi < 0) return [];
    return [{ ...base, endpointOf: (t: MarathonTask) => { const a = hostAddress(t.host); const p = t.ports?.[hi]; return a && p ? { address: a, port: p } : undefined; } }];
  });
}

/** Health of a task as Marathon reports it: running, and every health check alive (none reported yet = not healthy). */
function taskHealth(app: MarathonApp, t: MarathonTask): Endpoint['health'] | 'gone' {
  if (t.state !== undefined && t.state !== 'TASK_RUNNING') return 'gone';
  const checks = app.healthChecks?.length ?? 0;
  if (checks === 0) return 'healthy';
  const results = t.healthCheckResults ?? [];
  if (results.length === 0 || results.some((r) => r.alive === false)) return 'unhealthy';
  return 'healthy';
}

function locality(region: string | undefined, zone: string | undefined): string | undefined {
  if (!region) return undefined;
  return zone ? `${region}/${zone}` : region;
}

/** Builds the mesh view of apps and pods. `hostAddress` maps an agent host name to the address to dial (an IP, or the name when unresolved). */
export class ViewBuilder {
  private services = new Map<string, Service>();
  private endpoints: Endpoint[] = [];
  private workloads: Workload[] = [];
  /** Port-name disagreements between definitions that claim one service (reported, first one wins). */
  readonly conflicts: string[] = [];
  /** Apps and pods left out, with why. */
  readonly skipped: string[] = [];

  constructor(private readonly naming: MarathonNaming, private readonly hostAddress: (host: string | undefined) => string | undefined = (h) => h) {}

  private service(id: string, serviceName: string, ports: PortPlan[], extraNames: string[], addresses: string[]): Service {
    const { namespace, groups } = placeId(id);
    const host = serviceHostname(serviceName, namespace, this.naming.domains);
    let svc = this.services.get(host);
    if (!svc) {
      const { aliases, localAliases } = serviceAliases(serviceName, namespace, this.naming.domains);
      const label = mesosDnsLabel(serviceName, groups);
      for (const d of this.naming.mesosDomains) aliases.push(`${label}.${d}`);
      svc = { hostname: host, name: serviceName, namespace, aliases, localAliases, ports: [], resolution: 'STATIC', location: 'MESH_INTERNAL', source: this.naming.source };
      this.services.set(host, svc);
    }
    for (const n of extraNames) if (!svc.aliases.includes(n)) svc.aliases.push(n);
    if (addresses.length > 0) svc.addresses = [...new Set([...(svc.addresses ?? []), ...addresses])];
    for (const p of ports) {
      const have = svc.ports.find((q) => q.port === p.servicePort);
      if (!have) svc.ports.push({ name: p.name, port: p.servicePort, protocol: p.protocol });
      else if (have.protocol !== p.protocol) this.conflicts.push(`${id}: port ${p.servicePort} of ${host} is ${p.protocol} here but ${have.protocol} in another definition (kept ${have.protocol})`);
    }
    svc.ports.sort((a, b) => a.port - b.port);
    return svc;
  }

  /** Adds one app and its running tasks. */
  addApp(app: MarathonApp): void {
    const named = serviceNameOf(app.id, app.labels, this.naming);
    if ('skip' in named) return void this.skipped.push(named.skip);
    const ports = appPorts(app, this.hostAddress);
    const v = ports.map((p) => vips(p.labels));
    const svc = this.service(app.id, named.service, ports, v.flatMap((x) => x.names), v.flatMap((x) => x.addresses));
    const { namespace, name } = placeId(app.id);
    const labels = workloadLabels(app.labels, named.service, this.naming.serviceLabel);
    const tlsMode = app.labels?.[PROXY_LABEL] === 'sidecar' ? 'istio' : 'disabled';
    const sa = app.labels?.[SERVICE_ACCOUNT_LABEL];
    for (const t of app.tasks ?? []) {
      const health = taskHealth(app, t);
      if (health === 'gone') continue;
      const loc = locality(t.region, t.zone);
      let address: string | undefined;
      for (const p of ports) {
        const at = p.endpointOf(t);
        if (!at) continue;
        address ??= at.address;
        const ep: Endpoint = { service: svc.hostname, servicePort: p.servicePort, address: at.address, port: at.port, labels, workload: name, namespace, tlsMode, health: health ?? 'healthy' };
        if (sa) ep.serviceAccount = sa;
        if (loc) ep.locality = loc;
        this.endpoints.push(ep);
      }
      const w: Workload = { id: `${this.naming.source}/${t.id}`, name, namespace, labels, address: address ?? this.hostAddress(t.host) ?? '', hasProxy: tlsMode === 'istio', source: this.naming.source };
      if (sa) w.serviceAccount = sa;
      this.workloads.push(w);
    }
  }

  /** Adds one pod and its live instances. */
  addPod(pod: MarathonPodStatus): void {
    const spec = pod.spec ?? { id: pod.id };
    const named = serviceNameOf(pod.id, spec.labels, this.naming);
    if ('skip' in named) return void this.skipped.push(named.skip);
    const mode = spec.networks?.[0]?.mode ?? 'host';
    const eps = (spec.containers ?? []).filter((c) => c.name !== PROXY_CONTAINER).flatMap((c) => (c.endpoints ?? []).map((e) => ({ container: c.name, e })));
    const ports: PortPlan[] = eps.flatMap(({ e }) => {
      const servicePort = e.containerPort || e.hostPort || 0;
      if (!servicePort) return [];
      return [{ name: e.name, servicePort, protocol: portProtocol(e.name, e.labels), ...(e.labels ? { labels: e.labels } : {}), endpointOf: () => undefined }];
    });
    const v = ports.map((p) => vips(p.labels));
    const svc = this.service(pod.id, named.service, ports, v.flatMap((x) => x.names), v.flatMap((x) => x.addresses));
    const { namespace, name } = placeId(pod.id);
    const labels = workloadLabels(spec.labels, named.service, this.naming.serviceLabel);
    const injected = spec.labels?.[PROXY_LABEL] === 'sidecar' || (spec.containers ?? []).some((c) => c.name === PROXY_CONTAINER);
    const tlsMode = injected ? 'istio' : 'disabled';
    const sa = spec.labels?.[SERVICE_ACCOUNT_LABEL];
    for (const inst of pod.instances ?? []) {
      if (inst.status !== 'STABLE' && inst.status !== 'DEGRADED') continue;
      const host = this.hostAddress(inst.agentHostname);
      const ip = inst.networks?.find((n) => (n.addresses ?? []).length > 0)?.addresses?.[0];
      const loc = locality(inst.agentRegion, inst.agentZone);
      let address: string | undefined;
      for (const { container, e } of eps) {
        const servicePort = e.containerPort || e.hostPort || 0;
        if (!servicePort) continue;
        const st = inst.containers?.find((c) => c.name === container)?.endpoints?.find((x) => x.name === e.name);
        let at: { address: string; port: number } | undefined;
        if (mode === 'container' && ip && e.containerPort) at = { address: ip, port: e.containerPort };
        else if (host && (st?.allocatedHostPort || e.hostPort)) at = { address: host, port: (st?.allocatedHostPort || e.hostPort)! };
        if (!at) continue;
        address ??= at.address;
        const ep: Endpoint = { service: svc.hostname, servicePort, address: at.address, port: at.port, labels, workload: name, namespace, tlsMode, health: st?.healthy === false ? 'unhealthy' : 'healthy' };
        if (sa) ep.serviceAccount = sa;
        if (loc) ep.locality = loc;
        this.endpoints.push(ep);
      }
      const w: Workload = { id: `${this.naming.source}/${inst.id}`, name, namespace, labels, address: address ?? host ?? '', hasProxy: injected, source: this.naming.source };
      if (sa) w.serviceAccount = sa;
      this.workloads.push(w);
    }
  }

  /** The view of everything added. */
  view(): RegistryView {
    return { services: [...this.services.values()], endpoints: this.endpoints, workloads: this.workloads };
  }
}

/** A workload's labels: the definition's, with `app` defaulted to the service name (Istio's canonical service). */
function workloadLabels(labels: MarathonLabels | undefined, service: string, serviceLabel: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (typeof v === 'string' && !/^VIP_\d+$/.test(k)) out[k] = v;
  out['app'] ??= service;
  if (serviceLabel && out[serviceLabel] === undefined) out[serviceLabel] = service;
  return out;
}
