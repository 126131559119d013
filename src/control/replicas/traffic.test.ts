// Every replica's traffic in one window: peers' exports added to this replica's, a peer that failed named, and the
// dashboard's shared gathering (one fan-out per period and filter within its time to live).
import { describe, expect, it } from 'vitest';
import type { StatsRow } from '../../proxy-config/stats.js';
import { StatsWindow, WINDOW_BOUNDS_MS } from '../../push/server/stats-window.js';
import type { Peers } from './peers.js';
import type { ReplicaRecord } from './presence.js';
import { mergeTraffic, missingTraffic, peerExport, replicaTrafficSource, statszQuery } from './traffic.js';

const row = (o: Partial<StatsRow>): StatsRow => ({ r: 'd', sw: 'productpage-v1', sn: 'default', sa: 'productpage', sv: 'v1', dw: 'reviews-v1', dn: 'default', da: 'reviews', dv: 'v1', ds: 'reviews.default.svc.cluster.local', p: 'http', m: 1, c: '2xx', n: 0, e: 0, s: 0, b: [], ...o });
const peer = (id: string): ReplicaRecord => ({ id, apiUrl: `http://${id}:15000` }) as ReplicaRecord;

describe('mergeTraffic', () => {
  it('adds the peers\' windows to this one and names the peers whose traffic is missing', () => {
    const t = 1_000_000;
    const local = new StatsWindow({ now: () => t });
    local.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ n: 10, b: [1, 10] })] });
    const remote = new StatsWindow({ now: () => t });
    remote.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ dv: 'v2', dw: 'reviews-v2', n: 30, b: [1, 30] })] });
    const x = remote.export(60_000);
    const g = mergeTraffic({ id: 'a' }, local, [{ peer: peer('b'), export: x }, { peer: peer('c'), error: 'no answer within 2000 ms' }], 60_000);
    expect(g.window.graphEdges(60_000).map((e) => `${e.destination.version} ${e.requests}`).sort()).toEqual(['v1 10', 'v2 30']);
    expect(g.replicas.map((r) => `${r.id} ${r.edges}`)).toEqual(['a 1', 'b 1']);
    expect(missingTraffic(g)).toEqual(['traffic reported to replica c (http://c:15000) is not included: no answer within 2000 ms']);
    // The local window is read, never changed.
    expect(local.edges(60_000).map((e) => e.requests)).toEqual([10]);
  });

  it('keeps a peer\'s good edges, names its malformed ones, and refuses a window of other slots whole', () => {
    const t = 1_000_000;
    const local = new StatsWindow({ now: () => t });
    const remote = new StatsWindow({ now: () => t });
    remote.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ n: 5 })] });
    const x = remote.export(60_000);
    const bad = { ...x, slots: x.slots.map((s) => ({ ...s, edges: [...s.edges, { ...s.edges[0]!, n: 'many' } as never] })) };
    const g = mergeTraffic({ id: 'a' }, local, [{ peer: peer('b'), export: bad }, { peer: peer('c'), export: { ...x, slotMs: 15_000 } }], 60_000);
    expect(g.window.edges(60_000).map((e) => e.requests)).toEqual([5]);
    expect(g.unreachable.map((u) => `${u.id}: ${u.error}`)).toEqual(['b: 1 of its 2 edges were malformed and left out', 'c: its traffic window cannot be added: slots of 15000 ms, this window\'s are 10000 ms']);
  });

  it('reads a peer\'s answer only when it is a traffic window', () => {
    expect(peerExport(403, { message: 'BOWLINE_E_API_FORBIDDEN: no' })).toBe('answered 403: BOWLINE_E_API_FORBIDDEN: no');
    expect(peerExport(200, { proxies: [] })).toBe('answered without a traffic window');
    expect(peerExport(200, { window: { slotMs: 10_000, boundsMs: [], slots: [{ edges: [] }] } })).toBe('answered a traffic window with malformed slots');
    expect(typeof peerExport(200, { window: { slotMs: 10_000, boundsMs: [], slots: [] } })).toBe('object');
    expect(statszQuery(300_000, { service: 'reviews' })).toBe('/debug/statsz?local=1&periodMs=300000&service=reviews');
  });
});

describe('replicaTrafficSource', () => {
  it('asks every peer once per period and filter within its time to live, then again', async () => {
    let t = 1_000_000;
    const asked: string[] = [];
    const remote = new StatsWindow({ now: () => t });
    remote.add({ bounds: WINDOW_BOUNDS_MS, rows: [row({ n: 4 })] });
    const peers: Peers = {
      self: 'a',
      others: async () => [peer('b')],
      get: async (_p, path) => { asked.push(path); return { status: 200, body: { window: remote.export(Number(new URL(path, 'http://x').searchParams.get('periodMs'))) } }; },
    };
    const src = replicaTrafficSource({ id: 'a' }, new StatsWindow({ now: () => t }), peers, { ttlMs: 2000, now: () => t });
    const [e1, e2] = await Promise.all([src.graphEdges(60_000), src.graphEdges(60_000)]);
    expect(e1.map((e) => e.requests)).toEqual([4]);
    expect(e2).toEqual(e1);
    await src.series({ service: 'reviews' }, 900_000);
    expect(asked).toEqual(['/debug/statsz?local=1&periodMs=60000', '/debug/statsz?local=1&periodMs=900000&service=reviews']);
    t += 2000;
    await src.graphEdges(60_000);
    expect(asked).toHaveLength(3);
    // A period a peer would refuse is brought into its range (a dashboard's `window=-5`).
    await src.series({ service: 'reviews' }, -5000);
    expect(asked[3]).toBe('/debug/statsz?local=1&periodMs=1000&service=reviews');
    expect(src.missing()).toEqual([]);
  });
});
