import { describe, expect, it } from 'vitest';
import { createControlPlaneMetrics } from './control.js';
import { Registry } from './metrics/registry.js';

describe('control-plane metrics', () => {
  it('exposes pilot-like bowline_* metrics on a shared registry', () => {
    const r = new Registry();
    const cp = createControlPlaneMetrics(r);
    cp.pushes.labels('routes').inc();
    cp.pushDuration.labels('routes').observe(0.003);
    cp.convergence.labels().observe(0.2);
    cp.connectedProxies.labels().set(3);
    cp.nacks.labels('clusters').inc();
    cp.configWrites.labels('VirtualService', 'create').inc();
    cp.storeLatency.labels('put', 'embedded').observe(0.0004);
    const page = r.expose();
    for (const s of [
      'bowline_push_total{type="routes"} 1',
      'bowline_push_duration_seconds_bucket{type="routes",le="0.005"} 1',
      'bowline_convergence_seconds_count 1',
      'bowline_connected_proxies 3',
      'bowline_nack_total{type="clusters"} 1',
      'bowline_config_writes_total{kind="VirtualService",operation="create"} 1',
      'bowline_store_latency_seconds_bucket{operation="put",backend="embedded",le="0.0005"} 1',
    ]) expect(page).toContain(s + '\n');
    // Calling it again (another component) returns the same families.
    expect(createControlPlaneMetrics(r).pushes).toBe(cp.pushes);
  });
});
