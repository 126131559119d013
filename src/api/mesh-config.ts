import { LineCounter, parseDocument } from 'yaml';
import { any, arr, bool, dur, en, int, map, num, obj, req, str, type Finding } from './schema/dsl.js';
import { walk, isObj } from './schema/walk.js';
import { toViolation, locator, type Locator } from './locate.js';
import type { MeshConfig } from './types/mesh.js';
import { parseAccessLogFormat } from './access-log-format.js';
import type { Violation } from './types/meta.js';

const tracing = obj('Tracing', {
  sampling: num(0, 100),
  zipkin: obj('Zipkin', { address: str() }),
  custom_tags: any(),
  customTags: any(),
  maxPathTagLength: int(0),
  tlsSettings: any(),
  datadog: any(),
  lightstep: any(),
  stackdriver: any(),
  openCensusAgent: any(),
}, { open: false });

/**
 * Why `v` cannot be a mesh id, or undefined: it travels in the peer metadata header and span attributes, so
 * it is 1-253 printable ASCII characters without spaces, quotes or backslashes (`bowline up --mesh-id` too).
 */
export function meshIdProblem(v: string): string | undefined {
  return /^[\x21\x23-\x5b\x5d-\x7e]{1,253}$/.test(v) ? undefined : `mesh id ${JSON.stringify(v)} must be 1-253 printable ASCII characters without spaces, quotes or backslashes (e.g. mesh1)`;
}

const proxyConfig = obj('ProxyConfig', {
  tracing,
  discoveryAddress: str(),
  proxyMetadata: map(str()),
  holdApplicationUntilProxyStarts: bool(),
  concurrency: int(0),
  drainDuration: dur(),
  terminationDrainDuration: dur(),
  statusPort: int(0, 65535),
  proxyStatsMatcher: any(),
  extraStatTags: arr(str()),
  gatewayTopology: any(),
  meshId: str((v) => { const p = meshIdProblem(v); return p ? { code: 'BOWLINE_E_API_MESH_ID', message: p } : undefined; }),
  image: any(),
  envoyAccessLogService: any(),
  envoyMetricsService: any(),
  readinessProbe: any(),
  serviceCluster: str(),
  tracingServiceName: str(),
  configPath: str(),
  binaryPath: str(),
  controlPlaneAuthPolicy: str(),
}, { open: true });

const meshSchema = obj('MeshConfig', {
  trustDomain: str(),
  trustDomainAliases: arr(str()),
  rootNamespace: str(),
  enableAutoMtls: bool(),
  outboundTrafficPolicy: obj('OutboundTrafficPolicy', { mode: en('REGISTRY_ONLY', 'ALLOW_ANY') }),
  accessLogFile: str(),
  accessLogEncoding: en('TEXT', 'JSON'),
  accessLogFormat: str(),
  defaultConfig: proxyConfig,
  enableTracing: bool(),
  enablePrometheusMerge: bool(),
  ingressClass: str(),
  ingressService: str(),
  ingressControllerMode: str(),
  ingressSelector: str(),
  connectTimeout: dur(),
  protocolDetectionTimeout: dur(),
  dnsRefreshRate: dur(),
  defaultServiceExportTo: arr(str()),
  defaultVirtualServiceExportTo: arr(str()),
  defaultDestinationRuleExportTo: arr(str()),
  localityLbSetting: any(),
  extensionProviders: any(),
  defaultProviders: any(),
  discoverySelectors: arr(obj('LabelSelector', {
    matchLabels: map(str()),
    matchExpressions: arr(obj('LabelSelectorRequirement', { key: req(str()), operator: req(en('In', 'NotIn', 'Exists', 'DoesNotExist')), values: arr(str()) }, { open: false })),
  }, { open: false })),
  meshNetworks: any(),
  caCertificates: any(),
  certificates: any(),
  serviceSettings: any(),
  h2UpgradePolicy: en('DO_NOT_UPGRADE', 'UPGRADE'),
  inboundClusterStatName: str(),
  outboundClusterStatName: str(),
  pathNormalization: obj('ProxyPathNormalization', { normalization: en('DEFAULT', 'NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES') }, { open: false }),
  proxyHttpPort: int(0, 65535),
  proxyListenPort: int(0, 65535),
  proxyInboundListenPort: int(0, 65535),
  tcpKeepalive: any(),
  thriftConfig: any(),
  verifyCertificateAtClient: bool(),
  enableEnvoyAccessLogService: bool(),
  disableEnvoyListenerLog: bool(),
  mixerCheckServer: any(),
  mixerReportServer: any(),
  disablePolicyChecks: any(),
  policyCheckFailOpen: any(),
  sdsUdsPath: any(),
  sdsRefreshDelay: any(),
  configSources: any(),
  serviceScopeConfigs: any(),
}, { open: false });

/** Istio's defaults for the fields Bowline reads. */
export function defaultMeshConfig(): MeshConfig {
  return {
    trustDomain: 'cluster.local',
    rootNamespace: 'istio-system',
    enableAutoMtls: true,
    outboundTrafficPolicy: { mode: 'ALLOW_ANY' },
    accessLogFile: '',
    accessLogEncoding: 'TEXT',
    defaultConfig: { tracing: { sampling: 1 } },
  };
}

function merge(defaults: MeshConfig, user: Record<string, unknown>): MeshConfig {
  const out: MeshConfig = { ...defaults, ...user } as MeshConfig;
  const dc = isObj(user.defaultConfig) ? user.defaultConfig : {};
  const tr = isObj(dc.tracing) ? dc.tracing : {};
  out.defaultConfig = { ...defaults.defaultConfig, ...dc, tracing: { ...defaults.defaultConfig.tracing, ...tr } } as MeshConfig['defaultConfig'];
  out.outboundTrafficPolicy = { ...defaults.outboundTrafficPolicy, ...(isObj(user.outboundTrafficPolicy) ? user.outboundTrafficPolicy : {}) } as MeshConfig['outboundTrafficPolicy'];
  if (typeof out.defaultConfig.tracing.sampling === 'string') out.defaultConfig.tracing.sampling = Number(out.defaultConfig.tracing.sampling);
  return out;
}

/** The `envoyExtAuthzHttp` fields the proxies enforce (AuthorizationPolicy CUSTOM, src/push/generators/ext-authz.ts). */
export const EXT_AUTHZ_HTTP_FIELDS: readonly string[] = ['service', 'port', 'timeout', 'pathPrefix', 'failOpen', 'statusOnError', 'includeRequestHeadersInCheck', 'includeHeadersInCheck', 'includeAdditionalHeadersInCheck', 'headersToUpstreamOnAllow', 'headersToDownstreamOnDeny'];

/** The `envoyExtAuthzGrpc` fields the proxies enforce (Envoy's ext_authz gRPC service, src/proxy/authz/ext-authz-grpc.ts). */
export const EXT_AUTHZ_GRPC_FIELDS: readonly string[] = ['service', 'port', 'timeout', 'failOpen', 'statusOnError'];

const notEnforced = (path: Array<string | number>, what: string): Finding => ({
  severity: 'warning', code: 'BOWLINE_W_API_NOT_ENFORCED', path, atKey: true,
  message: `${what} is accepted but not enforced by Bowline's proxies`, hint: 'see docs/istio-coverage.md for what is enforced',
});

/**
 * The MeshConfig fields Bowline acts on, by path (the whole value of each; `defaultConfig` and
 * `defaultConfig.tracing` are looked into), each with where. Every other field a mesh config sets
 * is accepted and answered with BOWLINE_W_API_NOT_ENFORCED naming it (meshNotEnforced below);
 * unknown top-level or tracing fields get BOWLINE_W_API_MESH_UNKNOWN_FIELD instead.
 */
export const MESH_FIELDS_ACTED_ON: Readonly<Record<string, string>> = {
  trustDomain: 'workload identities and peer checks (src/push/security/mtls.ts, src/ca/), authorization principals (src/push/generators/authorization-translate.ts)',
  trustDomainAliases: 'peer trust domains (src/push/security/mtls.ts, src/push/generators/authorization-translate.ts)',
  rootNamespace: 'mesh-wide resources (src/push/generators/scope.ts, src/push/security/peer-authentication.ts, src/control/registries.ts)',
  enableAutoMtls: 'client TLS to mTLS endpoints (src/push/security/client-tls.ts)',
  outboundTrafficPolicy: 'mesh.outboundTrafficPolicy (src/push/generators/mesh.ts, src/push/generators/scope.ts)',
  accessLogFile: 'mesh.accessLog (src/push/generators/mesh-telemetry.ts)',
  accessLogEncoding: 'mesh.accessLog.encoding (src/push/generators/mesh-telemetry.ts)',
  accessLogFormat: 'mesh.accessLog.format (src/push/generators/mesh-telemetry.ts)',
  enableTracing: 'mesh.tracing / tracingSampling (src/push/generators/mesh-telemetry.ts)',
  extensionProviders: 'tracing / access log / metrics providers (src/push/generators/mesh-telemetry.ts), ext_authz (src/push/generators/ext-authz.ts; unenforced provider fields are warned by name)',
  defaultProviders: 'the default telemetry providers (src/push/generators/mesh-telemetry.ts, src/push/generators/telemetry-kind.ts)',
  discoverySelectors: 'the namespaces the Kubernetes registries watch (src/control/registries.ts, src/registry/kubernetes/)',
  pathNormalization: 'mesh.pathNormalization (src/push/generators/mesh.ts)',
  'defaultConfig.drainDuration': 'mesh.drainDurationMs (src/push/generators/mesh.ts)',
  'defaultConfig.terminationDrainDuration': 'mesh.terminationDrainDurationMs (src/push/generators/mesh.ts)',
  'defaultConfig.meshId': 'the mesh id unless bowline up --mesh-id (src/control/mesh.ts): mesh.meshId (src/push/generators/mesh.ts), the registry view peers check (src/registry/remote/view.ts)',
  'defaultConfig.tracing.sampling': 'mesh.tracingSampling (src/push/generators/mesh-telemetry.ts)',
  'defaultConfig.tracing.zipkin': 'the legacy zipkin collector (src/push/generators/mesh-telemetry.ts)',
};

/** Why some fields are not acted on, added to their warning. */
const NOT_ACTED_ON_NOTE: Readonly<Record<string, string>> = {
  mixerCheckServer: 'removed from Istio', mixerReportServer: 'removed from Istio', disablePolicyChecks: 'removed from Istio',
  policyCheckFailOpen: 'removed from Istio', sdsUdsPath: 'removed from Istio', sdsRefreshDelay: 'removed from Istio',
};

/** The containers meshNotEnforced looks into, with the fields their schema knows (undefined: open, every key counts). */
const MESH_CONTAINERS: Readonly<Record<string, readonly string[] | undefined>> = {
  '': Object.keys(meshSchema.fields),
  defaultConfig: undefined,
  'defaultConfig.tracing': Object.keys(tracing.fields),
};

/** One BOWLINE_W_API_NOT_ENFORCED warning, at the key, per field the mesh config sets that Bowline does not act on. */
function meshNotEnforced(value: Record<string, unknown>, at: string[] = []): Finding[] {
  const out: Finding[] = [];
  const known = MESH_CONTAINERS[at.join('.')];
  for (const [k, v] of Object.entries(value)) {
    const path = [...at, k];
    const dotted = path.join('.');
    if (dotted in MESH_FIELDS_ACTED_ON) continue;
    if (dotted in MESH_CONTAINERS && isObj(v)) { out.push(...meshNotEnforced(v, path)); continue; }
    if (known && !known.includes(k)) continue; // unknown: BOWLINE_W_API_MESH_UNKNOWN_FIELD already names it
    const note = NOT_ACTED_ON_NOTE[dotted];
    out.push({
      severity: 'warning', code: 'BOWLINE_W_API_NOT_ENFORCED', path, atKey: true,
      message: `MeshConfig ${dotted} is accepted but Bowline does not act on it${note ? ` (${note})` : ''}`,
      hint: 'see docs/config-api.md (Mesh config) for the MeshConfig fields Bowline acts on',
    });
  }
  return out;
}

/** Warnings for extension providers (or their fields) the proxies do not act on, by name. */
function providerFindings(value: Record<string, unknown>): Finding[] {
  const out: Finding[] = [];
  const list = Array.isArray(value.extensionProviders) ? value.extensionProviders : [];
  list.forEach((p, i) => {
    if (!isObj(p)) return;
    const at = ['extensionProviders', i];
    if (isObj(p.envoyExtAuthzGrpc)) {
      for (const k of Object.keys(p.envoyExtAuthzGrpc)) {
        if (!EXT_AUTHZ_GRPC_FIELDS.includes(k)) out.push(notEnforced([...at, 'envoyExtAuthzGrpc', k], `extensionProviders[${i}].envoyExtAuthzGrpc.${k}`));
      }
    }
    if (isObj(p.envoyExtAuthzHttp)) {
      for (const k of Object.keys(p.envoyExtAuthzHttp)) {
        if (!EXT_AUTHZ_HTTP_FIELDS.includes(k)) out.push(notEnforced([...at, 'envoyExtAuthzHttp', k], `extensionProviders[${i}].envoyExtAuthzHttp.${k}`));
      }
    }
  });
  return out;
}

function check(value: unknown): Finding[] {
  const findings: Finding[] = [];
  walk(value, meshSchema, [], {
    kind: 'MeshConfig',
    add: (f) => findings.push(f.code === 'BOWLINE_E_API_UNKNOWN_FIELD' ? { ...f, severity: 'warning', code: 'BOWLINE_W_API_MESH_UNKNOWN_FIELD', message: f.message.replace(/: expected one of .*$/, ': Bowline ignores it') } : f),
  });
  if (isObj(value)) findings.push(...meshNotEnforced(value), ...providerFindings(value));
  if (isObj(value) && typeof value.accessLogFormat === 'string' && value.accessLogFormat !== '') {
    const parsed = parseAccessLogFormat(value.accessLogFormat, value.accessLogEncoding === 'JSON' ? 'JSON' : 'TEXT');
    if ('problems' in parsed) for (const p of parsed.problems) findings.push({ severity: 'warning', code: 'BOWLINE_W_API_ACCESS_LOG_FORMAT', path: ['accessLogFormat'], message: `${p}; the proxies keep their default access log format`, hint: 'see docs/telemetry.md for the operators Bowline fills' });
  }
  return findings;
}

/** Istio MeshConfig (the `istio` ConfigMap's data.mesh YAML, or a --mesh-config file): parse + validate + defaults. Never throws. */
export function parseMeshConfig(text: string, opts: { file?: string } = {}): { mesh: MeshConfig; violations: Violation[] } {
  const mesh = defaultMeshConfig();
  try {
    const lc = new LineCounter();
    const doc = parseDocument(typeof text === 'string' ? text : '', { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    const violations: Violation[] = doc.errors.map((e) => {
      const p = lc.linePos(e.pos[0]);
      return { severity: 'error' as const, code: 'BOWLINE_E_API_YAML', path: '', message: `YAML: ${e.message.split('\n')[0]}`, ...(opts.file ? { file: opts.file } : {}), line: p.line, column: p.col };
    });
    if (violations.length) return { mesh, violations };
    const js = doc.toJS({ maxAliasCount: 1000 }) as unknown;
    if (js === null || js === undefined) return { mesh, violations };
    if (!isObj(js)) return { mesh, violations: [{ severity: 'error', code: 'BOWLINE_E_API_MESH_CONFIG', path: '', message: 'mesh config must be a map of MeshConfig fields', line: 1, column: 1, ...(opts.file ? { file: opts.file } : {}) }] };
    const loc = locator(doc, lc, 0);
    const found = check(js).map((f) => toViolation(f, loc, opts.file, 0));
    for (const v of found) delete v.docIndex;
    return { mesh: found.some((v) => v.severity === 'error') ? mesh : merge(mesh, js), violations: found };
  } catch (err) {
    return { mesh, violations: [{ severity: 'error', code: 'BOWLINE_E_API_MESH_CONFIG', path: '', message: `cannot read mesh config: ${(err as Error).message}` }] };
  }
}

/** Reads data.mesh of the `istio` ConfigMap, reporting positions relative to the enclosing file. */
export function meshConfigFromConfigMap(cm: Record<string, unknown>, loc: Locator, file: string | undefined): { mesh?: MeshConfig; violations: Violation[] } {
  const data = isObj(cm.data) ? cm.data : undefined;
  const text = data?.mesh;
  if (typeof text !== 'string') {
    if (data && data.mesh !== undefined) {
      const p = loc(['data', 'mesh']);
      return { violations: [{ severity: 'error', code: 'BOWLINE_E_API_MESH_CONFIG', path: 'data.mesh', message: 'data.mesh must be a string holding MeshConfig YAML', ...(file ? { file } : {}), line: p.line, column: p.column }] };
    }
    return { mesh: defaultMeshConfig(), violations: [] };
  }
  const base = loc(['data', 'mesh']);
  // The block's lines are indented two past the `mesh:` key, as Kubernetes and Istio write it.
  const indent = loc(['data', 'mesh'], true).column + 1;
  const res = parseMeshConfig(text);
  const violations = res.violations.map((v) => ({
    ...v,
    path: v.path ? `data.mesh: ${v.path}` : 'data.mesh',
    ...(file ? { file } : {}),
    line: base.line + (v.line ?? 1),
    column: (v.column ?? 1) + indent,
  }));
  return { mesh: res.mesh, violations };
}
