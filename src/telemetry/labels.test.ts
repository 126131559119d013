import { describe, expect, it } from 'vitest';
import type { NodeInfo, ProxyConfig } from '../proxy-config/index.js';
import { ConfigView } from './config-view.js';
import { LabelResolver } from './labels.js';
import { IstioMetrics } from './metrics/istio.js';
import { Registry } from './metrics/registry.js';
import { nodePeerMetadata, type PeerMetadata } from './peer.js';

const cluster = 'outbound|9080||reviews.default.svc.cluster.local';
const A = 'spiffe://cluster.local/ns/default/sa/reviews';
const B = 'spiffe://cluster.local/ns/default/sa/ratings';
const CLAIMED = 'spiffe://cluster.local/ns/default/sa/claimed';
const node = (app: string): NodeInfo => ({ id: `${app}-1`, role: 'sidecar', workload: `${app}-v1`, namespace: 'default', serviceAccount: app, labels: { app, version: 'v1' } });

function resolver(): { labels: LabelResolver; registry: Registry } {
  const config: Pick<ProxyConfig, 'clusters' | 'endpoints'> = {
    clusters: [{ name: cluster, discovery: 'eds', protocol: 'http1', tls: { mode: 'ISTIO_MUTUAL' }, service: { host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default', port: 9080 } }],
    // The endpoint's config names an identity too: it is what the control plane expects, not what a handshake proved.
    endpoints: [{ cluster, endpoints: [{ address: '10.0.0.7', port: 9080, workload: 'reviews-v1', namespace: 'default', identity: B }] }],
  };
  const registry = new Registry();
  return { labels: new LabelResolver(new IstioMetrics(registry), new ConfigView(node('productpage'), config)), registry };
}

/** The callee's metadata as its response header would carry it, claiming `principal`. */
const claiming = (principal: string): PeerMetadata => ({ ...nodePeerMetadata(node('reviews')), principal });

describe('LabelResolver: destination_principal of the source reporter', () => {
  it('is the upstream connection\'s verified identity: two identities are two series, one identity one series', () => {
    const { labels } = resolver();
    const peer = claiming(CLAIMED);
    const a = labels.httpSeries({ direction: 'outbound', cluster, peer, upstreamPrincipal: A });
    const b = labels.httpSeries({ direction: 'outbound', cluster, peer, upstreamPrincipal: B });
    expect(b).not.toBe(a);
    expect(labels.httpSeries({ direction: 'outbound', cluster, peer, upstreamPrincipal: A })).toBe(a);
    // The metrics-only path's memo tells them apart too, in either order.
    expect(labels.httpSeriesOf('outbound', cluster, undefined, peer, B, undefined, false)).toBe(b);
    expect(labels.httpSeriesOf('outbound', cluster, undefined, peer, A, undefined, false)).toBe(a);
    expect(labels.httpSeriesOf('outbound', cluster, undefined, peer, A, undefined, false)).toBe(a);
    expect(labels.key({ direction: 'outbound', cluster, peer, upstreamPrincipal: A }, 'http').destination.principal).toBe(A);
    expect(labels.key({ direction: 'outbound', cluster, peer, upstreamPrincipal: B }, 'http').destination.principal).toBe(B);
  });

  it('never comes from the callee\'s metadata or the endpoint\'s config: without a verified identity it is unknown; workload labels still come from them', () => {
    const { labels } = resolver();
    const k = labels.key({ direction: 'outbound', cluster, peer: claiming(CLAIMED) }, 'http');
    expect(k.destination).toMatchObject({ principal: 'unknown', workload: 'reviews-v1', app: 'reviews' });
    const byEndpoint = labels.key({ direction: 'outbound', cluster, upstreamHost: '10.0.0.7:9080' }, 'http');
    expect(byEndpoint.destination).toMatchObject({ principal: 'unknown', workload: 'reviews-v1' });
    // The downstream client's identity (a gateway's mTLS caller) is not the destination's either.
    expect(labels.key({ direction: 'gateway', cluster, peerPrincipal: A }, 'http').destination.principal).toBe('unknown');
    expect(labels.httpSeries({ direction: 'gateway', cluster, peerPrincipal: A })).toBe(labels.httpSeries({ direction: 'gateway', cluster, peerPrincipal: B }));
  });

  it('keeps inbound on the client certificate (source_principal), whatever the caller\'s metadata or an upstream identity says', () => {
    const { labels } = resolver();
    const caller = claiming(CLAIMED);
    const k = labels.key({ direction: 'inbound', cluster: 'inbound|9080||', peer: caller, peerPrincipal: A, upstreamPrincipal: B, mtls: true }, 'http');
    expect(k.source.principal).toBe(A);
    expect(labels.key({ direction: 'inbound', cluster: 'inbound|9080||', peer: caller, mtls: true }, 'http').source.principal).toBe('unknown');
    const a = labels.httpSeries({ direction: 'inbound', cluster: 'inbound|9080||', peer: caller, peerPrincipal: A, mtls: true });
    expect(labels.httpSeries({ direction: 'inbound', cluster: 'inbound|9080||', peer: caller, peerPrincipal: B, mtls: true })).not.toBe(a);
    expect(labels.httpSeriesOf('inbound', 'inbound|9080||', undefined, caller, A, true, false)).toBe(a);
  });

  it('labels TCP series by the upstream identity too', () => {
    const { labels, registry } = resolver();
    labels.tcpSeries({ direction: 'outbound', cluster, upstreamHost: '10.0.0.7:9080', upstreamPrincipal: A }).opened();
    labels.tcpSeries({ direction: 'outbound', cluster, upstreamHost: '10.0.0.7:9080', upstreamPrincipal: B }).opened();
    labels.tcpSeries({ direction: 'outbound', cluster, upstreamHost: '10.0.0.7:9080' }).opened();
    const opened = registry.expose().split('\n').filter((l) => l.startsWith('istio_tcp_connections_opened_total{'));
    expect(opened.map((l) => /destination_principal="([^"]*)"/.exec(l)?.[1]).sort()).toEqual([B, A, 'unknown'].sort());
  });
});
