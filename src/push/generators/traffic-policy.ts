/**
 * DestinationRule traffic policy as Istio merges it: the rule's policy, overridden field by field
 * by its portLevelSettings for the port, then by the subset's policy (and the subset's port level),
 * converted to the proxy's load balancer, connection pool, outlier detection and TLS.
 */
import { parseDuration } from '../../api/duration.js';
import type * as api from '../../api/types/networking.js';
import { credentialCaName, credentialCertName, type UsableCredential } from './secrets.js';
import type { Cluster } from '../../proxy-config/types.js';

type Fields = Pick<api.TrafficPolicy, 'loadBalancer' | 'connectionPool' | 'outlierDetection' | 'tls'>;

function overlay(base: Fields, top: Fields | undefined): Fields {
  if (!top) return base;
  const out: Fields = { ...base };
  if (top.loadBalancer) out.loadBalancer = top.loadBalancer;
  if (top.connectionPool) out.connectionPool = top.connectionPool;
  if (top.outlierDetection) out.outlierDetection = top.outlierDetection;
  if (top.tls) out.tls = top.tls;
  return out;
}

function atPort(tp: api.TrafficPolicy | undefined, port: number): Fields {
  if (!tp) return {};
  const base: Fields = { loadBalancer: tp.loadBalancer, connectionPool: tp.connectionPool, outlierDetection: tp.outlierDetection, tls: tp.tls };
  const pl = tp.portLevelSettings?.find((p) => p.port?.number === port);
  return overlay(base, pl);
}

/** The effective policy for `port` and `subset` of a DestinationRule. */
export function effectivePolicy(dr: api.DestinationRuleSpec | undefined, port: number, subset?: api.Subset): Fields {
  const top = atPort(dr?.trafficPolicy, port);
  return subset?.trafficPolicy ? overlay(top, atPort(subset.trafficPolicy, port)) : top;
}

const ms = (d: string | undefined) => (d === undefined ? undefined : parseDuration(d));

/**
 * Istio's localityLbSetting (enabled unless it says `enabled: false`, as the mesh default is): `distribute`
 * weights apply as they are; failover priorities (`failover`, `failoverPriority`, or the default same
 * subzone/zone/region order) only with outlier detection, which is what moves traffic off a failing locality.
 */
export function localityLb(s: api.LocalityLoadBalancerSetting | undefined, outlierDetection: boolean): Cluster['localityLb'] {
  if (s?.enabled === false) return undefined;
  if (s?.distribute?.length) return { distribute: s.distribute.map((d) => ({ from: d.from ?? '*', to: { ...(d.to ?? {}) } })) };
  if (!outlierDetection) return undefined;
  const priorities: NonNullable<NonNullable<Cluster['localityLb']>['priorities']> = {};
  const failover = (s?.failover ?? []).filter((f) => f.from && f.to).map((f) => ({ from: f.from!, to: f.to! }));
  if (failover.length) priorities.failover = failover;
  if (s?.failoverPriority?.length) priorities.failoverPriority = [...s.failoverPriority];
  return { priorities };
}

/** Applies an effective policy to a cluster (mutates the cluster being built). */
export function applyPolicy(c: Cluster, p: Fields, credential?: (name: string) => UsableCredential): void {
  const lb = p.loadBalancer;
  if (lb) {
    const simple = lb.simple === 'LEAST_CONN' ? 'LEAST_REQUEST' : lb.simple === 'UNSPECIFIED' || !lb.simple ? 'ROUND_ROBIN' : lb.simple;
    c.loadBalancer = { policy: simple };
    const h = lb.consistentHash;
    if (h) {
      const ch: NonNullable<NonNullable<Cluster['loadBalancer']>['consistentHash']> = {};
      if (h.httpHeaderName) ch.httpHeaderName = h.httpHeaderName.toLowerCase();
      if (h.httpCookie) {
        const ck: { name: string; path?: string; ttlMs?: number } = { name: h.httpCookie.name };
        if (h.httpCookie.path) ck.path = h.httpCookie.path;
        const ttl = ms(h.httpCookie.ttl);
        if (ttl !== undefined) ck.ttlMs = ttl;
        ch.httpCookie = ck;
      }
      if (h.useSourceIp) ch.useSourceIp = true;
      if (h.httpQueryParameterName) ch.httpQueryParameterName = h.httpQueryParameterName;
      const ring = h.ringHash?.minimumRingSize;
      if (ring) ch.minimumRingSize = ring;
      c.loadBalancer.consistentHash = ch;
    }
    // Slow start: Istio's warmup, or the older warmupDurationSecs (minimumPercent 10, aggression 1 by default).
    const warm = lb.warmup ? ms(lb.warmup.duration) : ms(lb.warmupDurationSecs);
    if (warm !== undefined && warm > 0 && c.loadBalancer.policy !== 'RANDOM' && !c.loadBalancer.consistentHash) {
      const w: NonNullable<NonNullable<Cluster['loadBalancer']>['warmup']> = { durationMs: warm };
      if (lb.warmup?.minimumPercent !== undefined) w.minimumPercent = lb.warmup.minimumPercent;
      if (lb.warmup?.aggression !== undefined) w.aggression = lb.warmup.aggression;
      c.loadBalancer.warmup = w;
    }
  }
  const locality = localityLb(lb?.localityLbSetting, p.outlierDetection !== undefined);
  if (locality) c.localityLb = locality;
  const cp = p.connectionPool;
  if (cp) {
    const pool: NonNullable<Cluster['connectionPool']> = {};
    const t = cp.tcp;
    const h = cp.http;
    if (t?.maxConnections !== undefined) pool.maxConnections = t.maxConnections;
    const ct = ms(t?.connectTimeout);
    if (ct !== undefined) pool.connectTimeoutMs = ct;
    if (t?.tcpKeepalive) {
      const ka: { timeMs?: number; intervalMs?: number; probes?: number } = {};
      const tm = ms(t.tcpKeepalive.time);
      const iv = ms(t.tcpKeepalive.interval);
      if (tm !== undefined) ka.timeMs = tm;
      if (iv !== undefined) ka.intervalMs = iv;
      if (t.tcpKeepalive.probes !== undefined) ka.probes = t.tcpKeepalive.probes;
      pool.tcpKeepalive = ka;
    }
    if (h?.http1MaxPendingRequests !== undefined) pool.http1MaxPendingRequests = h.http1MaxPendingRequests;
    if (h?.http2MaxRequests !== undefined) pool.http2MaxRequests = h.http2MaxRequests;
    if (h?.maxRequestsPerConnection !== undefined) pool.maxRequestsPerConnection = h.maxRequestsPerConnection;
    if (h?.maxRetries !== undefined) pool.maxRetries = h.maxRetries;
    const idle = ms(h?.idleTimeout ?? t?.idleTimeout);
    if (idle !== undefined) pool.idleTimeoutMs = idle;
    if (h?.maxConcurrentStreams !== undefined) pool.maxConcurrentStreams = h.maxConcurrentStreams;
    if (h?.h2UpgradePolicy === 'UPGRADE') c.h2Upgrade = true;
    if (h?.useClientProtocol) c.protocol = 'auto';
    c.connectionPool = pool;
  }
  const od = p.outlierDetection;
  if (od) {
    const o: NonNullable<Cluster['outlierDetection']> = {
      intervalMs: ms(od.interval) ?? 10_000,
      baseEjectionTimeMs: ms(od.baseEjectionTime) ?? 30_000,
      maxEjectionPercent: od.maxEjectionPercent ?? 10,
    };
    if (od.consecutive5xxErrors !== undefined) o.consecutive5xxErrors = od.consecutive5xxErrors;
    if (od.consecutiveGatewayErrors !== undefined) o.consecutiveGatewayErrors = od.consecutiveGatewayErrors;
    if (od.consecutiveLocalOriginFailures !== undefined) o.consecutiveLocalOriginFailures = od.consecutiveLocalOriginFailures;
    if (od.minHealthPercent !== undefined) o.minHealthPercent = od.minHealthPercent;
    c.outlierDetection = o;
  }
  const tls = p.tls;
  if (tls && tls.mode && tls.mode !== 'DISABLE') {
    const u: NonNullable<Cluster['tls']> = { mode: tls.mode };
    if (tls.mode === 'ISTIO_MUTUAL') {
      u.certificateSecret = 'default';
      u.validationSecret = 'ROOTCA';
    } else if (tls.credentialName) {
      const cr = credential?.(tls.credentialName) ?? { ok: false as const, reason: 'no proxy to read it for' };
      if (cr.ok && cr.cert) u.certificateSecret = credentialCertName(cr);
      if (cr.ok && cr.ca) u.validationSecret = credentialCaName(cr);
      if (!cr.ok) u.unavailable = `credentialName ${tls.credentialName}: ${cr.reason}`;
      else if (tls.mode === 'MUTUAL' && !cr.cert) u.unavailable = `credentialName ${tls.credentialName}: MUTUAL needs a certificate and key in Secret ${cr.namespace}/${cr.name}`;
      if (u.unavailable) { u.mode = 'SIMPLE'; delete u.certificateSecret; delete u.validationSecret; }
    } else {
      if (tls.clientCertificate) u.certificateSecret = `file-cert:${tls.clientCertificate}~${tls.privateKey ?? ''}`;
      if (tls.caCertificates) u.validationSecret = `file-root:${tls.caCertificates}`;
    }
    if (tls.sni) u.sni = tls.sni;
    if (tls.subjectAltNames) u.subjectAltNames = tls.subjectAltNames;
    if (tls.insecureSkipVerify) u.insecureSkipVerify = true;
    c.tls = u;
  }
}
