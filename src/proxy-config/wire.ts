/**
 * Wire types of the push stream between the control plane (src/push/server) and a proxy
 * (src/proxy/control-client). Newline-delimited JSON over TCP (TLS later): one message per
 * line. xDS semantics: per resource type a version (a content hash), a nonce per push,
 * ACK/NACK per nonce, incremental updates (changed resources + removed names) and full
 * replacement on (re)connect. See docs/push-protocol.md.
 */
import type { StatsMessage } from './stats.js';
import type { MeshSettings, NodeInfo, ProxyConfig, ResourceType, RouteConfig, VirtualHost } from './types.js';

/** Protocol revision spoken by this build (docs/push-protocol.md lists what each one added). */
export const PUSH_PROTOCOL_VERSION = 13;
/**
 * The oldest proxy protocol this control plane serves. A revision that only adds a resource type
 * keeps it (older proxies are not sent that type); one that adds a field to an existing type, which
 * an older proxy would refuse or, worse, ignore, raises it to itself. 6 added UpstreamTls.unavailable,
 * 7 authorization.custom (AuthorizationPolicy CUSTOM) and the telemetry fields of docs/push-protocol.md,
 * 9 mesh.metrics (Telemetry metrics overrides), 10 authorization.custom[].provider.protocol (ext_authz gRPC),
 * 11 mesh.terminationDrainDurationMs (MeshConfig defaultConfig.terminationDrainDuration),
 * 12 mesh.meshId (an older proxy would ignore it and report the wrong mesh id). 13 only added `clockMs`
 * to the proxy's hello and pings (proxy -> control plane, optional): the minimum stays.
 */
export const MIN_PUSH_PROTOCOL_VERSION = 12;
/** Longest line (one message) either side accepts; longer is garbage and closes the stream. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Every resource type the stream carries, in the order a proxy should apply them (xDS: CDS, EDS, LDS, RDS). */
export const RESOURCE_TYPES: readonly ResourceType[] = ['mesh', 'secrets', 'clusters', 'endpoints', 'listeners', 'routes', 'authorization', 'names'];

/** One service port a workload serves, as announced by its proxy. */
export interface AnnouncedPort {
  /** Service name, e.g. `reviews`. */
  service: string;
  /** Service port clients call. */
  port: number;
  /** Istio protocol: HTTP, HTTP2, GRPC, TCP, TLS, HTTPS. Default HTTP. */
  protocol?: string;
  /** Port name (Istio's `http`, `grpc-web`, ...). Default derived from the protocol. */
  name?: string;
  /** Port the application listens on, when it differs from `port` (the proxy's `--app-port`). */
  targetPort?: number;
}

/** What a proxy tells the control plane about its workload when its stream opens (universal registry). */
export interface WorkloadAnnouncement {
  name: string;
  namespace: string;
  serviceAccount: string;
  /** Labels including `app` and `version`. */
  labels: Record<string, string>;
  /** Address other proxies reach this workload's inbound listeners on. */
  address: string;
  services: AnnouncedPort[];
  /** Logical port -> port the proxy binds (inbound service ports, Gateway ports: `--bind-port 80=8080`).
   *  Other proxies dial the mapped inbound port. Absent: bind the logical port. */
  portMap?: Record<string, number>;
  /** Port of the outbound (HTTP_PROXY) listener; default 15001; 0 = no outbound listener. */
  outboundPort?: number;
  /** Address inbound listeners bind; default `address`. */
  bindAddress?: string;
  /** `iptables`: traffic is captured transparently (per-port TCP outbound listeners are generated). */
  captureMode?: 'none' | 'iptables';
  /** `gateway` proxies announce no services, only their labels (Gateway selectors). */
  role?: 'sidecar' | 'gateway';
  /** Extra platform facts, kept but not interpreted (locality, network). */
  locality?: string;
  /** `disabled` when the proxy runs without a workload certificate (no `--token-file`): peers' auto-mTLS
   *  then sends it plaintext (Istio's `security.istio.io/tlsMode` label). Default `istio`. */
  tlsMode?: 'istio' | 'disabled';
  /** `platform`: a platform registry (Marathon, Kubernetes) reports this workload's endpoints; `services`
   *  only shape the proxy's own inbound listeners and the universal registry adds no endpoints for them.
   *  Default `hello`: the announced services are the workload's endpoints. */
  endpointsFrom?: 'hello' | 'platform';
  /** The WorkloadGroup (in `namespace`) this workload joins: the control plane registers it as a WorkloadEntry created from the
   *  group's template (Istio's auto-registration) instead of a universal registration. Protocol 5. */
  workloadGroup?: string;
}

/** A resource as carried on the wire: its unique name within its type and its JSON body. */
export interface WireResource {
  name: string;
  body: unknown;
}

/** The change of one resource type inside a push. */
export interface TypeUpdate {
  resourceType: ResourceType;
  /** The type's version after this update (hash of its whole content). */
  version: string;
  /** True: `resources` is the whole set (replace). False: add/replace `resources`, delete `removed`. */
  full: boolean;
  resources: WireResource[];
  removed?: string[];
}

/** proxy -> control plane: first message on a stream. */
export interface HelloMessage {
  type: 'hello';
  protocol: number;
  node: NodeInfo;
  workload?: WorkloadAnnouncement;
  /** Versions of the config the proxy runs now (after a reconnect): unchanged types are not resent. */
  versions?: Partial<Record<ResourceType, string>>;
  /** The proxy's Bowline version (protocol 6), named in refusals. */
  proxyVersion?: string;
  /** The resource types the proxy understands (protocol 6); the control plane sends no other. */
  types?: ResourceType[];
  /** The proxy's wall clock (epoch ms) when it sent the hello (protocol 13): the control plane's view of its clock skew. */
  clockMs?: number;
}

/** control plane -> proxy: a set of type updates to apply atomically. */
export interface PushMessage {
  type: 'push';
  nonce: string;
  updates: TypeUpdate[];
}

/** proxy -> control plane: the push with `nonce` is applied; `versions` are what the proxy now runs. */
export interface AckMessage {
  type: 'ack';
  nonce: string;
  versions: Partial<Record<ResourceType, string>>;
}

/** proxy -> control plane: the push was refused; the proxy keeps running `versions` (its last good config). */
export interface NackMessage {
  type: 'nack';
  nonce: string;
  error: string;
  versions: Partial<Record<ResourceType, string>>;
}

/** proxy -> control plane: a certificate signing request (reserved for the CA; key stays on the proxy). */
export interface CsrMessage {
  type: 'csr';
  requestId: string;
  csr: string;
  /** Bootstrap token on first contact (no workload certificate yet). */
  token?: string;
}

/** control plane -> proxy: a signed certificate for a CSR (reserved for the CA). */
export interface CertificateMessage {
  type: 'certificate';
  requestId: string;
  certificateChain?: string;
  rootCerts?: string;
  /** Set when the CSR was refused. */
  error?: string;
  /** BOWLINE_E_* code when refused. */
  code?: string;
}

/** Keepalive either way; answered with `pong`. */
export interface PingMessage {
  type: 'ping' | 'pong';
  /** On a proxy's ping (protocol 13): its wall clock (epoch ms) when it sent it, as on its hello. */
  clockMs?: number;
}

/** How often a proxy pings its control plane with its clock (protocol 13), ms. */
export const CLOCK_PING_INTERVAL_MS = 30_000;

/** control plane -> proxy: why the stream is being closed (BOWLINE_E_PUSH_* code). */
export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

/**
 * proxy -> control plane: the health of the proxy's workload, from its WorkloadGroup probe
 * (`bowline proxy --probe-file`), sent when it changes and again on each new stream (protocol 8).
 * An auto-registered WorkloadEntry gets it as its `Healthy` condition; unhealthy endpoints get no traffic.
 */
export interface HealthMessage {
  type: 'health';
  healthy: boolean;
  /** Why (the probe's last failure), for people reading the WorkloadEntry. */
  message?: string;
}

/** proxy -> control plane: the proxy is stopping for good (SIGTERM, `bowline leave`): its auto-registered WorkloadEntry goes now, not after the grace period (protocol 8). */
export interface LeaveMessage {
  type: 'leave';
}

/** Any message a proxy sends. */
export type ClientMessage = HelloMessage | AckMessage | NackMessage | CsrMessage | PingMessage | StatsMessage | HealthMessage | LeaveMessage;
/** Any message the control plane sends. */
export type ServerMessage = PushMessage | CertificateMessage | PingMessage | ErrorMessage;

/** A route table split for the wire: its header, and one resource per virtual host (Envoy's VHDS idea). */
interface RouteHeaderBody {
  kind: 'route-config';
  name: string;
  validateClusters?: boolean;
}
interface VirtualHostBody {
  kind: 'virtual-host';
  routeConfig: string;
  virtualHost: VirtualHost;
}

/** Wire resource name of a virtual host inside a route table. */
function vhostName(rc: string, vh: string): string {
  return `${rc}/${vh}`;
}

/**
 * Splits one type's resources into wire resources. Route tables travel one virtual host per
 * resource, so changing one service's routes resends one small resource, not the whole table.
 */
export function splitResources(type: ResourceType, value: unknown): WireResource[] {
  switch (type) {
    case 'mesh':
    case 'authorization':
      return value === undefined ? [] : [{ name: type, body: value }];
    case 'routes': {
      const out: WireResource[] = [];
      for (const rc of value as RouteConfig[]) {
        const head: RouteHeaderBody = { kind: 'route-config', name: rc.name };
        if (rc.validateClusters !== undefined) head.validateClusters = rc.validateClusters;
        out.push({ name: rc.name, body: head });
        for (const vh of rc.virtualHosts) {
          const body: VirtualHostBody = { kind: 'virtual-host', routeConfig: rc.name, virtualHost: vh };
          out.push({ name: vhostName(rc.name, vh.name), body });
        }
      }
      return out;
    }
    default:
      return (value as Array<{ name?: string; cluster?: string }>).map((r) => ({ name: (r.name ?? r.cluster)!, body: r }));
  }
}

/** The mesh settings a proxy runs with before the control plane sends any (Istio's defaults). */
export const DEFAULT_MESH_SETTINGS: MeshSettings = {
  tracingSampling: 1,
  accessLog: { enabled: false, encoding: 'TEXT' },
  autoMtls: true,
  outboundTrafficPolicy: 'ALLOW_ANY',
};

/** Joins one type's wire resources (by name) back into the ProxyConfig field's value. */
export function joinResources(type: ResourceType, items: ReadonlyMap<string, unknown>): unknown {
  const sorted = [...items.keys()].sort();
  switch (type) {
    case 'mesh':
      return items.get('mesh') ?? DEFAULT_MESH_SETTINGS;
    case 'authorization':
      return items.get('authorization');
    case 'routes': {
      const tables = new Map<string, RouteConfig>();
      const hosts: VirtualHostBody[] = [];
      for (const name of sorted) {
        const body = items.get(name) as RouteHeaderBody | VirtualHostBody;
        if (body.kind === 'route-config') {
          const rc: RouteConfig = { name: body.name, virtualHosts: [] };
          if (body.validateClusters !== undefined) rc.validateClusters = body.validateClusters;
          tables.set(body.name, rc);
        } else hosts.push(body);
      }
      for (const h of hosts) tables.get(h.routeConfig)?.virtualHosts.push(h.virtualHost);
      return [...tables.values()];
    }
    default:
      return sorted.map((n) => items.get(n));
  }
}

/** Assembles a whole ProxyConfig from the proxy's node and its per-type resource maps. */
export function assembleConfig(node: NodeInfo, state: ReadonlyMap<ResourceType, ReadonlyMap<string, unknown>>, version?: string): ProxyConfig {
  const get = (t: ResourceType) => joinResources(t, state.get(t) ?? new Map());
  const cfg: ProxyConfig = {
    node,
    mesh: get('mesh') as MeshSettings,
    listeners: get('listeners') as ProxyConfig['listeners'],
    routes: get('routes') as ProxyConfig['routes'],
    clusters: get('clusters') as ProxyConfig['clusters'],
    endpoints: get('endpoints') as ProxyConfig['endpoints'],
    secrets: get('secrets') as ProxyConfig['secrets'],
  };
  const authz = get('authorization');
  if (authz !== undefined) cfg.authorization = authz as ProxyConfig['authorization'];
  const names = get('names') as NonNullable<ProxyConfig['names']>;
  if (names.length > 0) cfg.names = names;
  if (version !== undefined) cfg.version = version;
  return cfg;
}

/** Parses one line of the stream; returns an error string for anything that is not a known message. */
export function decodeMessage(line: string): { ok: true; msg: { type: string } & Record<string, unknown> } | { ok: false; error: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, error: 'message is not a JSON object' };
  const type = (v as { type?: unknown }).type;
  if (typeof type !== 'string') return { ok: false, error: 'message has no string "type"' };
  return { ok: true, msg: v as { type: string } & Record<string, unknown> };
}

/** Splits a byte stream into lines (messages); a line longer than `maxBytes` is a framing error. */
export class LineFramer {
  private parts: Buffer[] = [];
  private size = 0;
  /** `onLine` gets each complete line (without the newline); `onError` once on an oversized frame. */
  constructor(private readonly onLine: (line: string) => void, private readonly onError: (reason: string) => void, private readonly maxBytes = MAX_FRAME_BYTES) {}

  /** Feeds bytes read from the socket. */
  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      let line: string;
      if (this.parts.length) {
        this.parts.push(piece);
        line = Buffer.concat(this.parts).toString('utf8');
        this.parts = [];
        this.size = 0;
      } else line = piece.toString('utf8');
      start = nl + 1;
      if (line.length > this.maxBytes) return this.onError(`frame longer than ${this.maxBytes} bytes`);
      if (line.length) this.onLine(line);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.size += rest.length;
      if (this.size > this.maxBytes) {
        this.parts = [];
        this.size = 0;
        return this.onError(`frame longer than ${this.maxBytes} bytes`);
      }
      this.parts.push(Buffer.from(rest));
    }
  }
}
