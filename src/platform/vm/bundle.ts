/**
 * What a VM or bare-metal host needs to join the mesh (`bowline vm bundle -o DIR`, like Istio's
 * `istioctl x workload entry configure`): `bowline.env` (every setting; Istio's cluster.env keys
 * where one exists), `root-cert.pem`, a single-use bootstrap `token` with an expiry, `mesh.yaml`
 * (the proxy's mesh defaults, with the control plane's address), the `workloadgroup.yaml` it
 * was made from, and `probe.json` when the group has a health probe. Pure: the CLI fetches the root and the token, this lays out the files.
 */
import { stringify } from 'yaml';

/** One port of the group's workloads: name, number, Istio protocol. */
export interface BundlePort {
  name: string;
  port: number;
  protocol: string;
}

/** Everything a bundle says. */
export interface BundleInput {
  group: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  ports: BundlePort[];
  network?: string;
  /** The control plane's TLS push address HOST:PORT (Istio's discoveryAddress). */
  discoveryAddress: string;
  trustDomain: string;
  rootCertPem: string;
  token: string;
  tokenExpiresAt: string;
  /** The Bowline version that made the bundle (the host should run the same). */
  version: string;
  /** The WorkloadGroup as applied (YAML). */
  workloadGroupYaml: string;
  /** The group's `spec.probe`, when it has one: written as probe.json, which the proxy runs (`--probe-file`). */
  probe?: Record<string, unknown>;
}

/** A file of the bundle. */
export interface BundleFile {
  name: string;
  mode: number;
  content: string;
}

/** Parses `NAME:PORT[/PROTOCOL]` (protocol default: from the name's prefix, else TCP). */
export function parseBundlePort(s: string): BundlePort {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?):(\d+)(?:\/([A-Za-z0-9-]+))?$/.exec(s.trim());
  const n = m ? Number(m[3]) : 0;
  if (!m || n < 1 || n > 65535) throw new Error(`port "${s}" must be NAME:PORT[/PROTOCOL] (e.g. http:8080/HTTP, mysql:3306/TCP)`);
  const prefix = m[1]!.split('-')[0]!.toUpperCase();
  const known = ['HTTP', 'HTTP2', 'GRPC', 'HTTPS', 'TLS', 'TCP', 'MONGO'];
  return { name: m[1]!, port: n, protocol: (m[4] ?? (known.includes(prefix) ? prefix : 'TCP')).toUpperCase() };
}

/** The KEY=VALUE lines of bowline.env (values never need quoting: no spaces or quotes in them). */
export function renderEnv(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

/** Parses bowline.env (KEY=VALUE lines; `#` comments). */
export function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/** The bundle's settings: Istio's cluster.env keys, then Bowline's. */
export function bundleEnv(b: Omit<BundleInput, 'rootCertPem' | 'token' | 'workloadGroupYaml' | 'probe'>): Record<string, string> {
  const env: Record<string, string> = {
    ISTIO_NAMESPACE: b.namespace,
    POD_NAMESPACE: b.namespace,
    SERVICE_ACCOUNT: b.serviceAccount,
    TRUST_DOMAIN: b.trustDomain,
    CANONICAL_SERVICE: b.labels['app'] ?? b.group,
    ISTIO_META_WORKLOAD_NAME: b.group,
    ISTIO_METAJSON_LABELS: JSON.stringify(b.labels),
    ISTIO_INBOUND_PORTS: b.ports.map((p) => p.port).join(',') || '*',
    ISTIO_SERVICE_CIDR: '*',
    ISTIO_META_DNS_CAPTURE: 'true',
  };
  if (b.network) env.ISTIO_META_NETWORK = b.network;
  Object.assign(env, {
    BOWLINE_VERSION: b.version,
    BOWLINE_WORKLOAD_GROUP: b.group,
    BOWLINE_DISCOVERY_ADDRESS: b.discoveryAddress,
    BOWLINE_LABELS: Object.entries(b.labels).map(([k, v]) => `${k}=${v}`).join(','),
    BOWLINE_PORTS: b.ports.map((p) => `${p.name}:${p.port}/${p.protocol}`).join(','),
    BOWLINE_TOKEN_EXPIRES_AT: b.tokenExpiresAt,
  });
  return env;
}

/** The files of a bundle directory. */
export function bundleFiles(b: BundleInput): BundleFile[] {
  const mesh = { trustDomain: b.trustDomain, defaultConfig: { discoveryAddress: b.discoveryAddress, proxyMetadata: { ISTIO_META_DNS_CAPTURE: 'true', ...(b.network ? { ISTIO_META_NETWORK: b.network } : {}) } } };
  return [
    { name: 'bowline.env', mode: 0o644, content: `# WorkloadGroup ${b.namespace}/${b.group}, made by bowline vm bundle ${b.version}; install with: sudo bowline join DIR\n${renderEnv(bundleEnv(b))}` },
    { name: 'root-cert.pem', mode: 0o644, content: b.rootCertPem.endsWith('\n') ? b.rootCertPem : `${b.rootCertPem}\n` },
    { name: 'token', mode: 0o600, content: `${b.token}\n` },
    { name: 'mesh.yaml', mode: 0o644, content: stringify(mesh) },
    { name: 'workloadgroup.yaml', mode: 0o644, content: b.workloadGroupYaml },
    ...(b.probe ? [{ name: 'probe.json', mode: 0o644, content: `${JSON.stringify(b.probe, null, 2)}\n` }] : []),
  ];
}
