/**
 * Control-plane metrics (like istiod's pilot_* metrics, under bowline_*): one call builds the
 * handles on a Registry, the control plane serves `registry.expose()` on its /metrics.
 *
 *   const cp = createControlPlaneMetrics(registry);
 *   cp.pushes.labels('routes').inc(); cp.pushDuration.labels('routes').observe(0.012);
 *   cp.connectedProxies.labels().set(n); cp.convergence.labels().observe(seconds);
 */
import { type CounterChild, type Family, type GaugeChild, type HistogramChild, Registry } from './metrics/registry.js';

/** Seconds buckets for fast operations (push generation, store calls). */
export const FAST_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds buckets for convergence (config write to every proxy ACK), like pilot_proxy_convergence_time. */
export const CONVERGENCE_BUCKETS = [0.01, 0.1, 0.5, 1, 3, 5, 10, 20, 30];

/** Handles for the control plane's metrics. Label sets: resolve once per type/kind and keep the child. */
export interface ControlPlaneMetrics {
  registry: Registry;
  /** Pushes sent to proxies, by resource type (`listeners`, `routes`, ...). */
  pushes: Family<CounterChild>;
  /** Time to generate and send one push, seconds, by resource type. */
  pushDuration: Family<HistogramChild>;
  /** Config change to ACK by every affected proxy, seconds. */
  convergence: Family<HistogramChild>;
  /** Proxies connected on the push stream now. */
  connectedProxies: Family<GaugeChild>;
  /** NACKs received, by resource type. */
  nacks: Family<CounterChild>;
  /** Config writes accepted, by kind (VirtualService, ...) and operation (create/update/delete). */
  configWrites: Family<CounterChild>;
  /** Store operation latency, seconds, by operation (get/list/put/delete/watch) and backend. */
  storeLatency: Family<HistogramChild>;
  /** Certificates signed by the CA. */
  certificatesIssued: Family<CounterChild>;
  /** Validation failures of applied config, by kind. */
  configRejected: Family<CounterChild>;
}

/** Registers the control-plane metrics on `registry` (idempotent: same registry, same families). */
export function createControlPlaneMetrics(registry: Registry = new Registry()): ControlPlaneMetrics {
  return {
    registry,
    pushes: registry.counter({ name: 'bowline_push_total', help: 'Configuration pushes sent to proxies.', labelNames: ['type'] }),
    pushDuration: registry.histogram({ name: 'bowline_push_duration_seconds', help: 'Time to generate and send a push.', labelNames: ['type'], buckets: FAST_SECONDS_BUCKETS }),
    convergence: registry.histogram({ name: 'bowline_convergence_seconds', help: 'Delay between a config change and every affected proxy acknowledging it.', buckets: CONVERGENCE_BUCKETS }),
    connectedProxies: registry.gauge({ name: 'bowline_connected_proxies', help: 'Proxies connected to this control plane.' }),
    nacks: registry.counter({ name: 'bowline_nack_total', help: 'Pushes rejected (NACKed) by proxies.', labelNames: ['type'] }),
    configWrites: registry.counter({ name: 'bowline_config_writes_total', help: 'Configuration objects written.', labelNames: ['kind', 'operation'] }),
    storeLatency: registry.histogram({ name: 'bowline_store_latency_seconds', help: 'Latency of store operations.', labelNames: ['operation', 'backend'], buckets: FAST_SECONDS_BUCKETS }),
    certificatesIssued: registry.counter({ name: 'bowline_ca_certificates_issued_total', help: 'Workload certificates signed.' }),
    configRejected: registry.counter({ name: 'bowline_config_rejected_total', help: 'Configuration objects rejected by validation.', labelNames: ['kind'] }),
  };
}
