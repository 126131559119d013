/**
 * Control-plane metrics (like istiod's pilot_* metrics, under bowline_*): one call builds the
 * handles on a Registry, the control plane serves `registry.expose()` on its /metrics.
 *
 *   const cp = createControlPlaneMetrics(registry);
 *   cp.pushes.labels('routes').inc(); cp.pushDuration.labels('routes').observe(0.012);
 *   cp.connectedProxies.labels().set(n); cp.convergence.labels().observe(ms);
 *   controlPlane.metrics.addRegistry(registry);   // onto the existing /metrics
 */
import { type CounterChild, type Family, type GaugeChild, type HistogramChild, Registry } from './metrics/registry.js';

/** Seconds buckets for fast operations (push generation, store calls). */
export const FAST_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Seconds buckets of bowline_push_duration_seconds, as src/push/server/metrics.ts uses. */
export const PUSH_SECONDS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Millisecond buckets for convergence (config change to proxy ACK), as src/push/server/metrics.ts uses. */
export const CONVERGENCE_MS_BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/**
 * Handles for the control plane's metrics. Names and labels are the ones the control plane
 * already serves (src/control/metrics.ts, src/push/server/metrics.ts), so moving a metric onto
 * this registry changes nothing for users. Resolve a label set once and keep the child.
 */
export interface ControlPlaneMetrics {
  registry: Registry;
  /** Pushes sent to proxies, by resource type (`listeners`, `routes`, ...). */
  pushes: Family<CounterChild>;
  /** Time to generate one resource type of a push for one proxy, seconds, by resource type. */
  pushDuration: Family<HistogramChild>;
  /** Config change seen to proxy ACK, milliseconds (the convergence histogram). */
  convergence: Family<HistogramChild>;
  /** Proxies connected on the push stream now. */
  connectedProxies: Family<GaugeChild>;
  /** NACKs received (the proxy kept its last good config). */
  nacks: Family<CounterChild>;
  /** Config API writes, by kind, verb (post/put/patch/delete) and result (`ok` or the error reason). */
  configWrites: Family<CounterChild>;
  /** Store call latency, seconds, by op (get/list/put/delete/watch) and backend. */
  storeLatency: Family<HistogramChild>;
  /** Certificates signed by the CA. */
  certificatesIssued: Family<CounterChild>;
}

/** Registers the control-plane metrics on `registry` (idempotent: same registry, same families). */
export function createControlPlaneMetrics(registry: Registry = new Registry()): ControlPlaneMetrics {
  return {
    registry,
    pushes: registry.counter({ name: 'bowline_push_pushes_total', help: 'Pushes sent, by resource type.', labelNames: ['type'] }),
    pushDuration: registry.histogram({ name: 'bowline_push_duration_seconds', help: 'Time to generate one resource type of a push for one proxy.', labelNames: ['type'], buckets: PUSH_SECONDS_BUCKETS }),
    convergence: registry.histogram({ name: 'bowline_push_convergence_milliseconds', help: 'Time from a config change to the proxy ACK.', buckets: CONVERGENCE_MS_BUCKETS }),
    connectedProxies: registry.gauge({ name: 'bowline_push_proxies', help: 'Proxies connected to the push stream.' }),
    nacks: registry.counter({ name: 'bowline_push_nacks_total', help: 'NACKs received (proxy kept its last good config).' }),
    configWrites: registry.counter({ name: 'bowline_config_writes_total', help: 'Config API writes by kind, verb and result', labelNames: ['kind', 'verb', 'result'] }),
    storeLatency: registry.histogram({ name: 'bowline_store_request_duration_seconds', help: 'Latency of store calls by operation', labelNames: ['op', 'backend'], buckets: FAST_SECONDS_BUCKETS }),
    certificatesIssued: registry.counter({ name: 'bowline_ca_certificates_issued_total', help: 'Workload certificates signed.' }),
  };
}
