import { describe, expect, it } from 'vitest';
import { BootstrapError, parseBootstrap } from './bootstrap.js';

describe('proxy bootstrap', () => {
  it('builds node and workload from flags', () => {
    const b = parseBootstrap({ server: '127.0.0.1:15010', name: 'reviews-v2', labels: 'app=reviews,version=v2', 'service-account': 'bookinfo-reviews', service: ['reviews:9080'], 'app-port': '9081', 'bind-port': ['9080=19080'] });
    expect(b.node).toEqual({ id: 'reviews-v2.default', role: 'sidecar', workload: 'reviews-v2', namespace: 'default', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews', version: 'v2' } });
    expect(b.workload).toMatchObject({ address: '127.0.0.1', services: [{ service: 'reviews', port: 9080, protocol: 'HTTP', targetPort: 9081 }], portMap: { '9080': 19080 } });
  });

  it('a gateway has no outbound listener and binds Gateway ports as mapped', () => {
    const b = parseBootstrap({ server: 'tcp://127.0.0.1:15010', name: 'ingressgateway', namespace: 'istio-system', gateway: true, labels: 'istio=ingressgateway', 'bind-port': ['80=8080'] });
    expect(b.node.role).toBe('gateway');
    expect(b.workload).toMatchObject({ outboundPort: 0, portMap: { '80': 8080 }, bindAddress: '127.0.0.1' });
  });

  it('reads a bootstrap file, flags win', () => {
    const file = 'server: 127.0.0.1:1\nname: ratings-v1\nnamespace: shop\nlabels: {app: ratings}\nservices: ["ratings:9080/HTTP2@19080"]\n';
    const b = parseBootstrap({ bootstrap: 'b.yaml', server: '127.0.0.1:2' }, () => file);
    expect(b.server).toBe('127.0.0.1:2');
    expect(b.node.namespace).toBe('shop');
    expect(b.workload.services).toEqual([{ service: 'ratings', port: 9080, protocol: 'HTTP2', targetPort: 19080 }]);
  });

  it('says what is wrong', () => {
    expect(() => parseBootstrap({ name: 'x' })).toThrow(/--server/);
    expect(() => parseBootstrap({ server: 'nope', name: 'x' })).toThrow(BootstrapError);
    expect(() => parseBootstrap({ server: 'h:1', name: 'x', service: ['Bad_Name:80'] })).toThrow(/DNS label/);
    expect(() => parseBootstrap({ server: 'h:1', name: 'x', 'bind-port': ['80:8080'] })).toThrow(/PORT=BINDPORT/);
    expect(() => parseBootstrap({ server: 'h:1', name: 'x', labels: 'novalue' })).toThrow(/key=value/);
  });
});
