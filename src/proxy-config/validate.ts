/**
 * Validation of a whole proxy configuration, used by the proxy before it accepts a config
 * (file or push) and by the control plane's tests. Checks types, required fields, enums,
 * ranges, RE2 regexes, weights and references (listener -> route table, route -> cluster,
 * TLS -> secret, endpoints -> cluster). Never throws; reports every violation with its path.
 * A config with errors must be refused (the running one stays).
 */
import { isIP } from 'node:net';
import { ACCESS_LOG_OPERATORS, type ProxyConfig } from './types.js';
import { Checker, type ValidationError } from './validate-kit.js';
import { routeConfig } from './validate-routes.js';
import { authorizationPolicies, customAuthorization } from './validate-authz.js';
import { metricsSettings } from './validate-metrics.js';

export type { ValidationError } from './validate-kit.js';

/** The error code of a refused proxy configuration (docs/errors.md). */
export const PROXY_CONFIG_INVALID = 'BOWLINE_E_PROXY_CONFIG_INVALID';

/** The warning code of a route naming an undefined cluster without validateClusters (docs/errors.md). */
export const PROXY_CONFIG_UNKNOWN_CLUSTER = 'BOWLINE_W_PROXY_CONFIG_UNKNOWN_CLUSTER';

/** The result of validation: `config` is set only when there are no errors. */
export interface ProxyConfigValidation {
  config?: ProxyConfig;
  errors: ValidationError[];
  /** Accepted but suspicious (e.g. a route naming an unknown cluster without validateClusters). */
  warnings: ValidationError[];
}

/** `REGION[/ZONE[/SUBZONE]]`, no empty segment. */
const LOCALITY = /^[^/\s]+(\/[^/\s]+){0,2}$/;
/** A locality pattern: segments or `*` (anything from there on). */
const LOCALITY_PATTERN = /^([^/\s]+)(\/[^/\s]+){0,2}$/;

function localityLb(c: Checker, v: unknown, p: string): void {
  const o = c.obj(v, p, false);
  if (!o) return;
  if ((o.distribute === undefined) === (o.priorities === undefined)) c.error(p, 'needs exactly one of distribute, priorities');
  c.arr(o.distribute, `${p}.distribute`, false).forEach((d, i) => {
    const r = c.obj(d, `${p}.distribute[${i}]`);
    if (!r) return;
    if (c.str(r.from, `${p}.distribute[${i}].from`) && !LOCALITY_PATTERN.test(r.from)) c.error(`${p}.distribute[${i}].from`, `"${r.from}" is not a locality pattern`);
    const to = c.obj(r.to, `${p}.distribute[${i}].to`);
    for (const [k, w] of Object.entries(to ?? {})) {
      if (!LOCALITY_PATTERN.test(k)) c.error(`${p}.distribute[${i}].to`, `"${k}" is not a locality pattern`);
      c.num(w, `${p}.distribute[${i}].to.${k}`, { min: 0, max: 100 });
    }
  });
  const pr = c.obj(o.priorities, `${p}.priorities`, false);
  if (pr) {
    c.arr(pr.failover, `${p}.priorities.failover`, false).forEach((f, i) => {
      const r = c.obj(f, `${p}.priorities.failover[${i}]`);
      if (!r) return;
      c.str(r.from, `${p}.priorities.failover[${i}].from`);
      c.str(r.to, `${p}.priorities.failover[${i}].to`);
    });
    c.strings(pr.failoverPriority, `${p}.priorities.failoverPriority`);
  }
}

function node(c: Checker, v: unknown): void {
  const n = c.obj(v, 'node');
  if (!n) return;
  for (const k of ['id', 'workload', 'namespace', 'serviceAccount'] as const) c.str(n[k], `node.${k}`);
  c.oneOf(n.role, 'node.role', ['sidecar', 'gateway']);
  c.labels(n.labels, 'node.labels', true);
  if (n.cluster !== undefined) c.str(n.cluster, 'node.cluster');
  if (n.trustDomain !== undefined) c.str(n.trustDomain, 'node.trustDomain');
  c.strings(n.services, 'node.services');
  if (n.locality !== undefined && c.str(n.locality, 'node.locality') && !LOCALITY.test(n.locality)) c.error('node.locality', `"${n.locality}" is not REGION[/ZONE[/SUBZONE]]`);
}

/** Access-log format parts: strings, or known operators with a lowercase header for REQ/RESP. */
function accessLogParts(c: Checker, v: unknown, path: string): void {
  c.arr(v, path).forEach((p, i) => {
    if (typeof p === 'string') return;
    const o = c.obj(p, `${path}[${i}]`);
    if (!o) return;
    for (const k of Object.keys(o)) if (!['op', 'header', 'altHeader', 'maxLength'].includes(k)) c.error(`${path}[${i}].${k}`, 'unknown field');
    c.oneOf(o.op, `${path}[${i}].op`, ACCESS_LOG_OPERATORS);
    const headed = o.op === 'REQ' || o.op === 'RESP';
    if (headed) { if (c.str(o.header, `${path}[${i}].header`) && o.header !== o.header.toLowerCase()) c.error(`${path}[${i}].header`, 'must be lowercase'); }
    else if (o.header !== undefined || o.altHeader !== undefined) c.error(`${path}[${i}]`, 'header is only allowed with REQ and RESP');
    if (o.altHeader !== undefined) c.str(o.altHeader, `${path}[${i}].altHeader`);
    c.num(o.maxLength, `${path}[${i}].maxLength`, { min: 0, int: true });
  });
}

function mesh(c: Checker, v: unknown): void {
  const m = c.obj(v, 'mesh');
  if (!m) return;
  c.num(m.tracingSampling, 'mesh.tracingSampling', { required: true, min: 0, max: 100 });
  const al = c.obj(m.accessLog, 'mesh.accessLog');
  if (al) {
    c.bool(al.enabled, 'mesh.accessLog.enabled', true);
    c.oneOf(al.encoding, 'mesh.accessLog.encoding', ['TEXT', 'JSON']);
    if (al.path !== undefined) c.str(al.path, 'mesh.accessLog.path');
    if (al.format !== undefined) accessLogParts(c, al.format, 'mesh.accessLog.format');
    c.arr(al.jsonFormat, 'mesh.accessLog.jsonFormat', false).forEach((f, i) => {
      const o = c.obj(f, `mesh.accessLog.jsonFormat[${i}]`);
      if (!o) return;
      c.str(o.key, `mesh.accessLog.jsonFormat[${i}].key`);
      accessLogParts(c, o.parts, `mesh.accessLog.jsonFormat[${i}].parts`);
    });
  }
  c.bool(m.autoMtls, 'mesh.autoMtls', true);
  c.oneOf(m.outboundTrafficPolicy, 'mesh.outboundTrafficPolicy', ['ALLOW_ANY', 'REGISTRY_ONLY']);
  c.num(m.drainDurationMs, 'mesh.drainDurationMs', { min: 0 });
  c.num(m.terminationDrainDurationMs, 'mesh.terminationDrainDurationMs', { min: 0 });
  c.oneOf(m.pathNormalization, 'mesh.pathNormalization', ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'], false);
  const t = c.obj(m.tracing, 'mesh.tracing', false);
  if (t) {
    for (const k of ['zipkin', 'otlp'] as const) {
      const e = c.obj(t[k], `mesh.tracing.${k}`, false);
      if (e) c.str(e.url, `mesh.tracing.${k}.url`);
    }
    c.num(t.maxQueue, 'mesh.tracing.maxQueue', { min: 0, int: true });
  }
  metricsSettings(c, m.metrics);
  // Sent in the peer metadata header and span attributes: printable ASCII without spaces, quotes or backslashes.
  if (m.meshId !== undefined && c.str(m.meshId, 'mesh.meshId') && !/^[\x21\x23-\x5b\x5d-\x7e]{1,253}$/.test(m.meshId)) c.error('mesh.meshId', 'must be 1-253 printable ASCII characters without spaces, quotes or backslashes');
}

interface Refs {
  routes: Set<string>;
  clusters: Set<string>;
  secrets: Map<string, string>;
}

function secretRef(c: Checker, name: unknown, path: string, kind: string, refs: Refs, required = false): void {
  if (name === undefined && !required) return;
  if (!c.str(name, path)) return;
  const k = refs.secrets.get(name);
  if (k === undefined) c.error(path, `names unknown secret "${name}"`);
  else if (k !== kind) c.error(path, `secret "${name}" is of kind ${k}, expected ${kind}`);
}

function listener(c: Checker, v: unknown, p: string, refs: Refs): void {
  const l = c.obj(v, p);
  if (!l) return;
  c.str(l.name, `${p}.name`);
  c.str(l.address, `${p}.address`);
  c.num(l.port, `${p}.port`, { required: true, min: 0, max: 65535, int: true });
  c.oneOf(l.direction, `${p}.direction`, ['inbound', 'outbound', 'gateway']);
  c.num(l.logicalPort, `${p}.logicalPort`, { min: 1, max: 65535, int: true });
  c.num(l.detectTimeoutMs, `${p}.detectTimeoutMs`, { min: 0 });
  c.bool(l.useOriginalDst, `${p}.useOriginalDst`);
  const chains = c.arr(l.filterChains, `${p}.filterChains`);
  if (Array.isArray(l.filterChains) && chains.length === 0) c.error(`${p}.filterChains`, 'must have at least one filter chain');
  chains.forEach((fcv, i) => {
    const fp = `${p}.filterChains[${i}]`;
    const fc = c.obj(fcv, fp);
    if (!fc) return;
    c.str(fc.name, `${fp}.name`);
    const m = c.obj(fc.match, `${fp}.match`, false);
    if (m) {
      c.oneOf(m.transportProtocol, `${fp}.match.transportProtocol`, ['tls', 'raw'], false);
      c.strings(m.serverNames, `${fp}.match.serverNames`);
      c.strings(m.applicationProtocols, `${fp}.match.applicationProtocols`);
      c.oneOf(m.protocol, `${fp}.match.protocol`, ['http1', 'http2', 'tcp'], false);
      c.num(m.destinationPort, `${fp}.match.destinationPort`, { min: 1, max: 65535, int: true });
      c.strings(m.prefixRanges, `${fp}.match.prefixRanges`);
      c.strings(m.sourcePrefixRanges, `${fp}.match.sourcePrefixRanges`);
    }
    const tls = c.obj(fc.tls, `${fp}.tls`, false);
    if (tls) {
      secretRef(c, tls.certificateSecret, `${fp}.tls.certificateSecret`, 'tls-certificate', refs, true);
      secretRef(c, tls.validationSecret, `${fp}.tls.validationSecret`, 'validation', refs);
      c.bool(tls.requireClientCertificate, `${fp}.tls.requireClientCertificate`);
      if (tls.requireClientCertificate === true && tls.validationSecret === undefined) c.error(`${fp}.tls.validationSecret`, 'is required when requireClientCertificate is true');
      c.strings(tls.subjectAltNames, `${fp}.tls.subjectAltNames`);
      c.strings(tls.alpn, `${fp}.tls.alpn`);
      c.oneOf(tls.minVersion, `${fp}.tls.minVersion`, ['TLSv1.2', 'TLSv1.3'], false);
      c.oneOf(tls.securityPolicy, `${fp}.tls.securityPolicy`, ['mutual_tls', 'none'], false);
    }
    if ((fc.http === undefined) === (fc.tcp === undefined)) c.error(fp, 'must have exactly one of http, tcp');
    const h = c.obj(fc.http, `${fp}.http`, false);
    if (h) {
      if (c.str(h.routeConfig, `${fp}.http.routeConfig`) && !refs.routes.has(h.routeConfig)) c.error(`${fp}.http.routeConfig`, `names unknown route table "${h.routeConfig}"`);
      c.bool(h.acceptAbsoluteForm, `${fp}.http.acceptAbsoluteForm`);
      c.oneOf(h.codec, `${fp}.http.codec`, ['http1', 'http2', 'auto'], false);
      c.num(h.maxRequestHeadersBytes, `${fp}.http.maxRequestHeadersBytes`, { min: 1024, int: true });
      c.num(h.idleTimeoutMs, `${fp}.http.idleTimeoutMs`, { min: 0 });
      c.num(h.requestHeadersTimeoutMs, `${fp}.http.requestHeadersTimeoutMs`, { min: 0 });
      c.num(h.xffNumTrustedHops, `${fp}.http.xffNumTrustedHops`, { min: 0, int: true });
      c.bool(h.httpsRedirect, `${fp}.http.httpsRedirect`);
      c.bool(h.generateRequestId, `${fp}.http.generateRequestId`);
      c.oneOf(h.forwardClientCertDetails, `${fp}.http.forwardClientCertDetails`, ['sanitize', 'append_forward', 'sanitize_set'], false);
    }
    const t = c.obj(fc.tcp, `${fp}.tcp`, false);
    if (t) {
      c.num(t.idleTimeoutMs, `${fp}.tcp.idleTimeoutMs`, { min: 0 });
      c.arr(t.routes, `${fp}.tcp.routes`).forEach((rv, j) => {
        const rp = `${fp}.tcp.routes[${j}]`;
        const r = c.obj(rv, rp);
        if (!r) return;
        const m2 = c.obj(r.match, `${rp}.match`, false);
        if (m2) {
          c.num(m2.port, `${rp}.match.port`, { min: 1, max: 65535, int: true });
          c.labels(m2.sourceLabels, `${rp}.match.sourceLabels`);
          c.strings(m2.sniHosts, `${rp}.match.sniHosts`);
          c.strings(m2.destinationSubnets, `${rp}.match.destinationSubnets`);
        }
        c.arr(r.destinations, `${rp}.destinations`).forEach((d, k) => {
          const o = c.obj(d, `${rp}.destinations[${k}]`);
          if (!o) return;
          if (c.str(o.cluster, `${rp}.destinations[${k}].cluster`) && !refs.clusters.has(o.cluster)) c.error(`${rp}.destinations[${k}].cluster`, `names unknown cluster "${o.cluster}"`);
          c.num(o.weight, `${rp}.destinations[${k}].weight`, { required: true, min: 0 });
        });
      });
    }
  });
}

function cluster(c: Checker, v: unknown, p: string, refs: Refs): void {
  const cl = c.obj(v, p);
  if (!cl) return;
  c.str(cl.name, `${p}.name`);
  c.oneOf(cl.discovery, `${p}.discovery`, ['eds', 'dns', 'original_dst']);
  c.oneOf(cl.protocol, `${p}.protocol`, ['http1', 'http2', 'tcp', 'auto']);
  if (cl.discovery === 'dns') {
    const hosts = c.arr(cl.dnsHosts, `${p}.dnsHosts`);
    hosts.forEach((h, i) => {
      const o = c.obj(h, `${p}.dnsHosts[${i}]`);
      if (!o) return;
      c.str(o.host, `${p}.dnsHosts[${i}].host`);
      c.num(o.port, `${p}.dnsHosts[${i}].port`, { required: true, min: 1, max: 65535, int: true });
    });
  }
  if (cl.subset !== undefined) c.str(cl.subset, `${p}.subset`);
  const lb = c.obj(cl.loadBalancer, `${p}.loadBalancer`, false);
  if (lb) {
    c.oneOf(lb.policy, `${p}.loadBalancer.policy`, ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'PASSTHROUGH']);
    const ch = c.obj(lb.consistentHash, `${p}.loadBalancer.consistentHash`, false);
    if (ch) {
      const keys = ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'].filter((k) => ch[k] !== undefined && ch[k] !== false);
      if (keys.length !== 1) c.error(`${p}.loadBalancer.consistentHash`, 'must have exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName');
      if (ch.httpHeaderName !== undefined) c.str(ch.httpHeaderName, `${p}.loadBalancer.consistentHash.httpHeaderName`);
      if (ch.httpQueryParameterName !== undefined) c.str(ch.httpQueryParameterName, `${p}.loadBalancer.consistentHash.httpQueryParameterName`);
      c.bool(ch.useSourceIp, `${p}.loadBalancer.consistentHash.useSourceIp`);
      const ck = c.obj(ch.httpCookie, `${p}.loadBalancer.consistentHash.httpCookie`, false);
      if (ck) {
        c.str(ck.name, `${p}.loadBalancer.consistentHash.httpCookie.name`);
        if (ck.path !== undefined) c.str(ck.path, `${p}.loadBalancer.consistentHash.httpCookie.path`);
        c.num(ck.ttlMs, `${p}.loadBalancer.consistentHash.httpCookie.ttlMs`, { min: 0 });
      }
      c.num(ch.minimumRingSize, `${p}.loadBalancer.consistentHash.minimumRingSize`, { min: 1, int: true });
    }
    const wu = c.obj(lb.warmup, `${p}.loadBalancer.warmup`, false);
    if (wu) {
      c.num(wu.durationMs, `${p}.loadBalancer.warmup.durationMs`, { required: true, min: 1 });
      c.num(wu.minimumPercent, `${p}.loadBalancer.warmup.minimumPercent`, { min: 0, max: 100 });
      c.num(wu.aggression, `${p}.loadBalancer.warmup.aggression`, { min: 1 });
    }
  }
  localityLb(c, cl.localityLb, `${p}.localityLb`);
  const cp = c.obj(cl.connectionPool, `${p}.connectionPool`, false);
  if (cp) {
    for (const k of ['maxConnections', 'http1MaxPendingRequests', 'http2MaxRequests', 'maxRequestsPerConnection', 'maxRetries', 'maxConcurrentStreams']) c.num(cp[k], `${p}.connectionPool.${k}`, { min: 0, int: true });
    for (const k of ['connectTimeoutMs', 'idleTimeoutMs']) c.num(cp[k], `${p}.connectionPool.${k}`, { min: 0 });
    const ka = c.obj(cp.tcpKeepalive, `${p}.connectionPool.tcpKeepalive`, false);
    if (ka) {
      for (const k of ['timeMs', 'intervalMs']) c.num(ka[k], `${p}.connectionPool.tcpKeepalive.${k}`, { min: 0 });
      c.num(ka.probes, `${p}.connectionPool.tcpKeepalive.probes`, { min: 0, int: true });
    }
  }
  const od = c.obj(cl.outlierDetection, `${p}.outlierDetection`, false);
  if (od) {
    for (const k of ['consecutive5xxErrors', 'consecutiveGatewayErrors', 'consecutiveLocalOriginFailures']) c.num(od[k], `${p}.outlierDetection.${k}`, { min: 0, int: true });
    c.num(od.intervalMs, `${p}.outlierDetection.intervalMs`, { required: true, min: 1 });
    c.num(od.baseEjectionTimeMs, `${p}.outlierDetection.baseEjectionTimeMs`, { required: true, min: 1 });
    c.num(od.maxEjectionPercent, `${p}.outlierDetection.maxEjectionPercent`, { required: true, min: 0, max: 100 });
    c.num(od.minHealthPercent, `${p}.outlierDetection.minHealthPercent`, { min: 0, max: 100 });
  }
  const tls = c.obj(cl.tls, `${p}.tls`, false);
  if (tls) {
    c.oneOf(tls.mode, `${p}.tls.mode`, ['SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']);
    secretRef(c, tls.certificateSecret, `${p}.tls.certificateSecret`, 'tls-certificate', refs, tls.mode === 'MUTUAL');
    secretRef(c, tls.validationSecret, `${p}.tls.validationSecret`, 'validation', refs);
    if (tls.sni !== undefined) c.str(tls.sni, `${p}.tls.sni`);
    c.strings(tls.subjectAltNames, `${p}.tls.subjectAltNames`);
    c.bool(tls.insecureSkipVerify, `${p}.tls.insecureSkipVerify`);
    c.strings(tls.alpn, `${p}.tls.alpn`);
    if (tls.unavailable !== undefined) c.str(tls.unavailable, `${p}.tls.unavailable`);
  }
  c.bool(cl.h2Upgrade, `${p}.h2Upgrade`);
}

function assignment(c: Checker, v: unknown, p: string, refs: Refs): void {
  const a = c.obj(v, p);
  if (!a) return;
  if (c.str(a.cluster, `${p}.cluster`) && !refs.clusters.has(a.cluster)) c.error(`${p}.cluster`, `names unknown cluster "${a.cluster}"`);
  c.arr(a.endpoints, `${p}.endpoints`).forEach((ev, i) => {
    const ep = `${p}.endpoints[${i}]`;
    const e = c.obj(ev, ep);
    if (!e) return;
    c.str(e.address, `${ep}.address`);
    c.num(e.port, `${ep}.port`, { required: true, min: 1, max: 65535, int: true });
    c.num(e.weight, `${ep}.weight`, { min: 1, int: true });
    c.labels(e.labels, `${ep}.labels`);
    if (e.identity !== undefined) c.str(e.identity, `${ep}.identity`);
    c.oneOf(e.tlsMode, `${ep}.tlsMode`, ['istio', 'disabled'], false);
    c.oneOf(e.health, `${ep}.health`, ['healthy', 'unhealthy', 'draining'], false);
  });
}

function secret(c: Checker, v: unknown, p: string): void {
  const s = c.obj(v, p);
  if (!s) return;
  c.str(s.name, `${p}.name`);
  c.oneOf(s.kind, `${p}.kind`, ['tls-certificate', 'validation']);
  if (s.kind === 'tls-certificate') {
    c.str(s.certificateChain, `${p}.certificateChain`);
    c.str(s.privateKey, `${p}.privateKey`);
  }
  if (s.kind === 'validation') c.str(s.trustedCa, `${p}.trustedCa`);
}

function authorization(c: Checker, v: unknown): void {
  const a = c.obj(v, 'authorization', false);
  if (!a) return;
  authorizationPolicies(c, a.policies, 'authorization.policies');
  customAuthorization(c, a.custom, 'authorization.custom');
}

const DNS_NAME = /^(\*\.)?([a-z0-9_]([-a-z0-9_]*[a-z0-9_])?\.)*[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?$/i;

/** The DNS proxy's name table: unique host names, valid DNS names, IP addresses. */
function nameTable(c: Checker, v: unknown): void {
  const list = c.arr(v, 'names', false);
  names(c, list, 'names', 'name table');
  list.forEach((e, i) => {
    const p = `names[${i}]`;
    const o = c.obj(e, p);
    if (!o) return;
    for (const [j, n] of [o.name, ...c.strings(o.aliases, `${p}.aliases`)].entries()) {
      const at = j === 0 ? `${p}.name` : `${p}.aliases[${j - 1}]`;
      if (c.str(n, at) && (n.length > 253 || !DNS_NAME.test(n))) c.error(at, `"${n}" is not a DNS name`);
    }
    const addrs = c.strings(o.addresses, `${p}.addresses`, true);
    if (addrs.length === 0 && Array.isArray(o.addresses)) c.error(`${p}.addresses`, 'must not be empty');
    addrs.forEach((a, j) => { if (isIP(a) === 0) c.error(`${p}.addresses[${j}]`, `"${a}" is not an IP address`); });
  });
}

/** Collects the names of a resource list, reporting duplicates. */
function names(c: Checker, list: unknown[], path: string, what: string): Set<string> {
  const seen = new Set<string>();
  list.forEach((item, i) => {
    if (typeof item === 'object' && item !== null) c.unique(seen, (item as { name?: unknown }).name, `${path}[${i}].name`, what);
  });
  return seen;
}

/** Validates a proxy configuration. Never throws; `config` is returned only when there are no errors. */
export function validateProxyConfig(obj: unknown): ProxyConfigValidation {
  const c = new Checker();
  try {
    const root = c.obj(obj, '(root)');
    if (!root) return { errors: c.errors, warnings: c.warnings };
    if (root.version !== undefined) c.str(root.version, 'version', { empty: true });
    node(c, root.node);
    mesh(c, root.mesh);
    const listeners = c.arr(root.listeners, 'listeners');
    const routes = c.arr(root.routes, 'routes');
    const clusters = c.arr(root.clusters, 'clusters');
    const endpoints = c.arr(root.endpoints, 'endpoints');
    const secrets = c.arr(root.secrets, 'secrets');
    names(c, listeners, 'listeners', 'listener');
    const refs: Refs = { routes: names(c, routes, 'routes', 'route table'), clusters: names(c, clusters, 'clusters', 'cluster'), secrets: new Map() };
    names(c, secrets, 'secrets', 'secret');
    for (const s of secrets) {
      const o = s as { name?: unknown; kind?: unknown };
      if (o && typeof o.name === 'string' && typeof o.kind === 'string') refs.secrets.set(o.name, o.kind);
    }
    secrets.forEach((s, i) => secret(c, s, `secrets[${i}]`));
    listeners.forEach((l, i) => listener(c, l, `listeners[${i}]`, refs));
    routes.forEach((r, i) => routeConfig(c, r, `routes[${i}]`, { clusters: refs.clusters }));
    clusters.forEach((cl, i) => cluster(c, cl, `clusters[${i}]`, refs));
    const assigned = new Set<string>();
    endpoints.forEach((e, i) => {
      assignment(c, e, `endpoints[${i}]`, refs);
      const name = (e as { cluster?: unknown } | null)?.cluster;
      if (typeof name === 'string') {
        if (assigned.has(name)) c.error(`endpoints[${i}].cluster`, `cluster "${name}" already has an endpoint list`);
        assigned.add(name);
      }
    });
    authorization(c, root.authorization);
    nameTable(c, root.names);
  } catch (err) {
    c.error('(root)', `could not be validated: ${(err as Error).message}`);
  }
  if (c.errors.length > 0) return { errors: c.errors, warnings: c.warnings };
  return { config: obj as ProxyConfig, errors: [], warnings: c.warnings };
}

/** One line per error, `path: message`, for logs and the CLI. */
export function formatValidationErrors(errors: readonly ValidationError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('\n');
}
