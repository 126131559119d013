import { describe, expect, it } from 'vitest';
import { formatProxyStatus, replicaWarnings } from './proxy-status.js';
import { formatSection } from './proxy-config.js';

describe('proxy-status / proxy-config output', () => {
  it('shows per-type state, last ACK age, convergence, and NACK reasons', () => {
    const out = formatProxyStatus({ now: 10_000, proxies: [
      { id: 'reviews-v1.default', role: 'sidecar', types: { listeners: { state: 'SYNCED' }, routes: { state: 'NACKED', error: 'routes[0] bad' }, clusters: { state: 'SYNCED' }, endpoints: { state: 'STALE' }, secrets: { state: 'SYNCED' } }, lastAckAt: 7_000, lastConvergenceMs: 42 },
    ] });
    expect(out).toMatch(/^NAME\s+ROLE\s+LDS\s+RDS\s+CDS\s+EDS\s+SDS\s+LAST ACK\s+CONVERGENCE/);
    expect(out).toMatch(/reviews-v1\.default\s+sidecar\s+SYNCED\s+NACKED\s+SYNCED\s+STALE\s+SYNCED\s+3s ago\s+42ms/);
    expect(out).toContain('reviews-v1.default routes: NACK: routes[0] bad');
  });

  it('with several replicas: a REPLICA column naming the one each proxy is connected to, and the replicas that did not answer', () => {
    const synced = { listeners: { state: 'SYNCED' }, routes: { state: 'SYNCED' }, clusters: { state: 'SYNCED' }, endpoints: { state: 'SYNCED' }, secrets: { state: 'SYNCED' } };
    const body = {
      now: 10_000,
      proxies: [
        { id: 'productpage-v1.default', role: 'sidecar', replica: 'bowline-0', types: synced, lastAckAt: 9_000, lastConvergenceMs: 5 },
        { id: 'reviews-v1.default', role: 'sidecar', replica: 'bowline-1', types: synced, lastAckAt: 8_000, lastConvergenceMs: 7 },
      ],
      replicas: [{ id: 'bowline-0', proxies: 1 }, { id: 'bowline-1', apiUrl: 'http://10.0.0.6:15014', proxies: 1 }],
      unreachableReplicas: [{ id: 'bowline-2', apiUrl: 'http://10.0.0.7:15014', error: 'http://10.0.0.7:15014: no answer within 2000 ms' }],
    };
    const [head, row1, row2] = formatProxyStatus(body).split('\n');
    expect(head).toMatch(/^NAME\s+ROLE\s+LDS\s+RDS\s+CDS\s+EDS\s+SDS\s+REPLICA\s+LAST ACK\s+CONVERGENCE$/);
    expect(row1).toMatch(/^productpage-v1\.default\s+sidecar(\s+SYNCED){5}\s+bowline-0\s+1s ago\s+5ms$/);
    expect(row2!.indexOf('bowline-1')).toBe(head!.indexOf('REPLICA'));
    expect(replicaWarnings(body)).toBe('Warning: replica bowline-2 (http://10.0.0.7:15014) did not answer: http://10.0.0.7:15014: no answer within 2000 ms; the proxies connected to it are not listed\n');
    // One replica (the embedded store, or the only one running): no column, no warning.
    const single = formatProxyStatus({ ...body, replicas: [{ id: 'bowline-0', proxies: 2 }], unreachableReplicas: [] });
    expect(single).not.toContain('REPLICA');
    expect(replicaWarnings({ now: 0, proxies: [] })).toBe('');
  });

  it("names a proxy whose host clock is a second or more off the control plane's, under the table", () => {
    const synced = { listeners: { state: 'SYNCED' }, routes: { state: 'SYNCED' }, clusters: { state: 'SYNCED' }, endpoints: { state: 'SYNCED' }, secrets: { state: 'SYNCED' } };
    const out = formatProxyStatus({ now: 10_000, proxies: [
      { id: 'productpage-v1.default', role: 'sidecar', types: synced, clockSkewMs: 400 },
      { id: 'reviews-v1.default', role: 'sidecar', types: synced, clockSkewMs: 172_800_000 },
      { id: 'ratings-v1.default', role: 'sidecar', types: synced, clockSkewMs: -46_800_400 },
      { id: 'old-v1.default', role: 'sidecar', types: synced },
    ] });
    const notes = out.split('\n').filter((l) => l.includes('host clock'));
    expect(notes).toEqual([
      "reviews-v1.default: host clock 172800 s ahead of the control plane's: it judges peers' certificates by it (synchronise it: NTP)",
      "ratings-v1.default: host clock 46800 s behind the control plane's: it judges peers' certificates by it (synchronise it: NTP)",
    ]);
  });

  it('tabulates routes with weighted destinations', () => {
    const out = formatSection('routes', { routes: [{ name: 'outbound', virtualHosts: [{ name: 'reviews:9080', domains: ['reviews'], routes: [{ route: { destinations: [{ cluster: 'a', weight: 50 }, { cluster: 'b', weight: 50 }] } }] }] }] });
    expect(out).toMatch(/outbound\s+reviews:9080\s+reviews\s+a@50\+b@50/);
  });
});

describe('bowline authn check table', () => {
  it('aligns columns and explains each conflict below the table', async () => {
    const { formatAuthn } = await import('./authn.js');
    const out = formatAuthn([
      { host: 'reviews.default.svc.cluster.local', port: 9080, clientNamespace: 'default', server: { mode: 'STRICT', source: 'PeerAuthentication default/default' }, client: { mode: 'DISABLE', source: 'DestinationRule default/reviews' }, status: 'CONFLICT', message: 'set ISTIO_MUTUAL' },
    ]);
    const [head, row] = out.split('\n');
    expect(head!.indexOf('STATUS')).toBe(row!.indexOf('CONFLICT'));
    expect(out).toMatch(/\nCONFLICT reviews\.default\.svc\.cluster\.local:9080: set ISTIO_MUTUAL\n$/);
  });
  it('names clients without a sidecar and DestinationRule subsets in their rows and conflict lines', async () => {
    const { formatAuthn } = await import('./authn.js');
    const out = formatAuthn([
      { host: 'reviews.default.svc.cluster.local', port: 9080, clientNamespace: 'legacy', clients: 'no-sidecar', server: { mode: 'STRICT', source: 'mesh' }, client: { mode: 'DISABLE', source: '(no sidecar: no workload certificate)' }, status: 'CONFLICT', message: 'give it a sidecar' },
      { host: 'reviews.default.svc.cluster.local', port: 9080, clientNamespace: 'default', clients: 'sidecar', subset: 'v3', server: { mode: 'STRICT', source: 'mesh' }, client: { mode: 'DISABLE', source: 'DestinationRule default/reviews' }, status: 'CONFLICT', message: 'set ISTIO_MUTUAL' },
    ]);
    expect(out).toMatch(/reviews\.default\.svc\.cluster\.local:9080\s+legacy \(no sidecar\)\s+STRICT/);
    expect(out).toContain('\nCONFLICT reviews.default.svc.cluster.local:9080 (subset v3): set ISTIO_MUTUAL\n');
  });
});
