import { describe, expect, it } from 'vitest';
import { parseMeshConfig } from '../../api/index.js';
import { SUPPORTED_OPERATORS } from '../../api/access-log-format.js';
import { ACCESS_LOG_OPERATORS } from '../../proxy-config/types.js';
import { validateProxyConfig } from '../../proxy-config/validate.js';
import { compileJsonFormat, compileTextFormat } from '../../telemetry/accesslog/custom-format.js';
import type { RequestRecord } from '../../telemetry/record.js';
import { meshSettings } from './mesh.js';

const NODE = { id: 'a.foo', workload: 'a', namespace: 'foo', serviceAccount: 'a', role: 'sidecar' as const, labels: {} };
const rec = (): RequestRecord => ({
  direction: 'inbound', startTime: Date.UTC(2026, 0, 2, 3, 4, 5), durationMs: 12.4, method: 'GET', authority: 'reviews:9080', path: '/reviews/0?x=1', protocol: 'HTTP/1.1',
  status: 200, responseFlags: '-', bytesReceived: 0, bytesSent: 42, cluster: 'inbound|9080||', upstreamHost: '127.0.0.1:5000', downstreamRemoteAddress: '10.0.0.9:4000',
  peerPrincipal: 'spiffe://cluster.local/ns/foo/sa/pp', requestHeaders: { header: (n) => ({ 'x-tenant': 'acme', 'x-long': 'abcdefgh' } as Record<string, string>)[n] },
});
const ID = { sourcePrincipal: '-', destinationPrincipal: '-', sourceWorkload: '-', destinationWorkload: '-', sourceNamespace: '-', destinationNamespace: '-' };

describe('MeshConfig accessLogFormat', () => {
  it('the operators the control plane accepts are the ones the proxy knows', () => {
    expect([...SUPPORTED_OPERATORS].sort()).toEqual([...ACCESS_LOG_OPERATORS].sort());
  });

  it('TEXT: Envoy command operators become parts the proxy validates and fills', () => {
    const { mesh, violations } = parseMeshConfig('accessLogFile: /dev/stdout\naccessLogFormat: "[%START_TIME%] %REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE% %REQ(X-TENANT)% %REQ(x-long):3% %UPSTREAM_HOST% %DOWNSTREAM_PEER_URI_SAN% %REQ(x-none)%\\n"\n');
    expect(violations).toEqual([]);
    const s = meshSettings(mesh);
    expect(validateProxyConfig({ node: NODE, mesh: s, listeners: [], routes: [], clusters: [], endpoints: [], secrets: [] }).errors).toEqual([]);
    expect(compileTextFormat(s.accessLog.format!)(rec(), ID)).toBe('[2026-01-02T03:04:05.000Z] GET /reviews/0?x=1 200 acme abc 127.0.0.1:5000 spiffe://cluster.local/ns/foo/sa/pp -');
  });

  it('JSON: one field per key, numbers stay numbers, absent values are null', () => {
    const { mesh } = parseMeshConfig(`accessLogFile: /dev/stdout\naccessLogEncoding: JSON\naccessLogFormat: '{"code": "%RESPONSE_CODE%", "path": "%REQ(:PATH)%", "who": "t=%REQ(x-tenant)%", "none": "%REQ(x-none)%"}'\n`);
    const s = meshSettings(mesh);
    expect(JSON.parse(compileJsonFormat(s.accessLog.jsonFormat!)(rec(), ID))).toEqual({ code: 200, path: '/reviews/0?x=1', who: 't=acme', none: null });
  });

  it('an operator the proxies cannot fill is refused by name and the default format stays', () => {
    const { mesh, violations } = parseMeshConfig('accessLogFile: /dev/stdout\naccessLogFormat: "%REQ(:PATH)% %NOT_AN_OPERATOR% %RESP(content-type)%"\n');
    expect(violations.map((v) => [v.code, v.severity, v.path])).toEqual([['BOWLINE_W_API_ACCESS_LOG_FORMAT', 'warning', 'accessLogFormat'], ['BOWLINE_W_API_ACCESS_LOG_FORMAT', 'warning', 'accessLogFormat']]);
    expect(violations[0]!.message).toContain('%NOT_AN_OPERATOR%');
    expect(violations[1]!.message).toContain('%RESP(content-type)%');
    expect(meshSettings(mesh).accessLog.format).toBeUndefined();
    expect(parseMeshConfig('accessLogFile: /dev/stdout\naccessLogEncoding: JSON\naccessLogFormat: "not json"\n').violations[0]!.code).toBe('BOWLINE_W_API_ACCESS_LOG_FORMAT');
  });
});
