import { arr, bool, dep, dur, en, int, map, num, obj, req, str, type Schema } from './dsl.js';
import { exportTo, labels, matchLabelsSelector, portNumber } from './common.js';
import * as f from './formats.js';
import { isObj } from './walk.js';

const consistentHash = obj('ConsistentHashLB', {
  httpHeaderName: str(),
  httpCookie: obj('HTTPCookie', { name: req(str()), path: str(), ttl: dur(), attributes: arr(obj('Attribute', { name: req(str()), value: str() })) }),
  useSourceIp: bool(),
  httpQueryParameterName: str(),
  ringHash: obj('RingHash', { minimumRingSize: int(0) }),
  maglev: obj('MagLev', { tableSize: int(0) }),
  minimumRingSize: dep(int(0), 'use ringHash: {minimumRingSize: N}'),
}, { oneOf: [['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'], ['ringHash', 'maglev', 'minimumRingSize']] });

const localityLb = obj('LocalityLoadBalancerSetting', {
  distribute: arr(obj('Distribute', { from: str(), to: map(int(0)) })),
  failover: arr(obj('Failover', { from: str(), to: str() })),
  failoverPriority: arr(str()),
  enabled: bool(),
});

const zoneAwareLb = obj('ZoneAwareLoadBalancerSetting', {
  enabled: bool(),
  failover: arr(obj('Failover', { from: str(), to: str() })),
  failoverPriority: arr(str()),
  minClusterSize: int(1),
});

const loadBalancer = obj('LoadBalancerSettings', {
  simple: en('UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'),
  consistentHash,
  localityLbSetting: localityLb,
  zoneAwareLbSetting: zoneAwareLb,
  backendUtilization: obj('BackendUtilizationLoadBalancing', { errorUtilizationPenaltyPercent: int(0), metricNamesForComputingUtilization: arr(str()), weightExpirationPeriod: dur(), weightStabilizationPeriod: dur(), weightUpdatePeriod: dur() }),
  warmupDurationSecs: dur(1),
  warmup: obj('WarmupConfiguration', { duration: req(dur(1)), minimumPercent: num(0, 100), aggression: num(1) }),
}, { oneOf: [['simple', 'consistentHash', 'backendUtilization']] });

/** Connection pool settings (also used by Sidecar). */
export const connectionPool = obj('ConnectionPoolSettings', {
  tcp: obj('TCPSettings', {
    maxConnections: int(0),
    connectTimeout: dur(1),
    tcpKeepalive: obj('TcpKeepalive', { probes: int(0), time: dur(1), interval: dur(1) }),
    maxConnectionDuration: dur(1),
    idleTimeout: dur(1),
  }),
  http: obj('HTTPSettings', {
    http1MaxPendingRequests: int(0),
    http2MaxRequests: int(0),
    maxRequestsPerConnection: int(0),
    maxRetries: int(0),
    idleTimeout: dur(1),
    h2UpgradePolicy: en('DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE'),
    useClientProtocol: bool(),
    maxConcurrentStreams: int(0),
    http2KeepAlive: obj('Http2KeepAlive', { interval: dur(1), timeout: dur(1) }),
  }),
});

const outlier = obj('OutlierDetection', {
  consecutiveErrors: dep(int(0), 'use consecutive5xxErrors (or consecutiveGatewayErrors)'),
  splitExternalLocalOriginErrors: bool(),
  consecutiveLocalOriginFailures: int(0),
  consecutiveGatewayErrors: int(0),
  consecutive5xxErrors: int(0),
  interval: dur(1),
  baseEjectionTime: dur(1),
  maxEjectionPercent: int(0, 100),
  minHealthPercent: int(0, 100),
  outlierDetectionHttpErrorCodes: arr(int(100, 599)),
});

/** Client-side TLS settings. */
export const clientTls = obj('ClientTLSSettings', {
  mode: en('DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'),
  clientCertificate: str(),
  privateKey: str(),
  caCertificates: str(),
  credentialName: str(),
  subjectAltNames: arr(str()),
  sni: str(),
  insecureSkipVerify: bool(),
  caCrl: str(),
}, {
  check: (o, path, ctx) => {
    if (o.mode === 'MUTUAL' && !o.credentialName && (!o.clientCertificate || !o.privateKey)) {
      ctx.add({ code: 'BOWLINE_E_API_TLS', path, message: 'tls mode MUTUAL needs clientCertificate and privateKey, or credentialName' });
    }
    if (o.mode === 'ISTIO_MUTUAL') {
      for (const k of ['clientCertificate', 'privateKey', 'caCertificates', 'credentialName']) {
        if (o[k]) ctx.add({ code: 'BOWLINE_E_API_TLS', path: [...path, k], atKey: true, message: `tls mode ISTIO_MUTUAL uses the mesh's certificates: ${k} must not be set`, hint: 'use mode MUTUAL to present your own certificates' });
      }
    }
  },
});

const portPolicy = obj('PortTrafficPolicy', {
  port: obj('PortSelector', { number: portNumber() }),
  loadBalancer,
  connectionPool,
  outlierDetection: outlier,
  tls: clientTls,
});

/** A traffic policy (DestinationRule or subset level). */
export const trafficPolicy: Schema = obj('TrafficPolicy', {
  loadBalancer,
  connectionPool,
  outlierDetection: outlier,
  tls: clientTls,
  portLevelSettings: arr(portPolicy),
  tunnel: obj('TunnelSettings', { protocol: en('CONNECT', 'POST'), targetHost: req(str()), targetPort: req(portNumber()) }),
  proxyProtocol: obj('ProxyProtocol', { version: en('V1', 'V2') }),
  retryBudget: obj('RetryBudget', { percent: num(0, 100), minRetryConcurrency: int(0), budgetInterval: dur(1) }),
});

/** spec of a DestinationRule. */
export const destinationRuleSpec = obj('DestinationRuleSpec', {
  host: req(str(f.destinationHost)),
  trafficPolicy,
  subsets: arr(obj('Subset', { name: req(str()), labels, trafficPolicy })),
  exportTo,
  workloadSelector: matchLabelsSelector,
}, {
  check: (o, path, ctx) => {
    const seen = new Map<string, number>();
    if (!Array.isArray(o.subsets)) return;
    o.subsets.forEach((s, i) => {
      if (!isObj(s) || typeof s.name !== 'string') return;
      if (seen.has(s.name)) {
        ctx.add({ code: 'BOWLINE_E_API_DUPLICATE_SUBSET', path: [...path, 'subsets', i, 'name'], message: `subset "${s.name}" is defined twice (first at subsets[${seen.get(s.name)}])` });
      } else seen.set(s.name, i);
    });
  },
});

