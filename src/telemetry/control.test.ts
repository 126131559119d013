import { describe, expect, it } from 'vitest';
import { createControlPlaneMetrics } from './control.js';
import { Registry } from './metrics/registry.js';

describe('control-plane metrics', () => {
  it('exposes pilot-like bowline_* metrics on a shared registry', () => {
    const r = new Registry();
    const cp = createControlPlaneMetrics(r);
    cp.pushes.labels('routes').inc();
    cp.pushDuration.labels('routes').observe(0.003);
    cp.convergence.labels().observe(40);
    cp.connectedProxies.labels().set(3);
    cp.nacks.labels().inc();
    cp.configWrites.labels('VirtualService', 'post', 'ok').inc();
    cp.storeLatency.labels('put', 'embedded').observe(0.0004);
    const page = r.expose();
    for (const s of [
      'bowline_push_pushes_total{type="routes"} 1',
      'bowline_push_duration_seconds_bucket{type="routes",le="0.005"} 1',
      'bowline_push_convergence_milliseconds_bucket{le="50"} 1',
      'bowline_push_proxies 3',
      'bowline_push_nacks_total 1',
      'bowline_config_writes_total{kind="VirtualService",verb="post",result="ok"} 1',
      'bowline_store_request_duration_seconds_bucket{op="put",backend="embedded",le="0.0005"} 1',
    ]) expect(page).toContain(s + '\n');
    // Calling it again (another component) returns the same families.
    expect(createControlPlaneMetrics(r).pushes).toBe(cp.pushes);
  });
});
