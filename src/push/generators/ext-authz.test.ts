import { describe, expect, it } from 'vitest';
import { parseMeshConfig } from '../../api/index.js';
import type { Resource } from '../../api/types/meta.js';
import { validateProxyConfig } from '../../proxy-config/validate.js';
import { analysisSnapshot } from '../analysis/index.js';
import { configProblems } from '../config-status.js';
import { authorizationFor } from './authorization.js';

const NODE = { id: 'httpbin-1.foo', workload: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', role: 'sidecar' as const, labels: { app: 'httpbin' } };
const MESH = `extensionProviders:
- name: http
  envoyExtAuthzHttp:
    service: ext-authz.foo.svc.cluster.local
    port: 8000
    timeout: 2s
    pathPrefix: /check
    statusOnError: "503"
    includeRequestHeadersInCheck: [X-Ext-Authz, "x-pass-*"]
    headersToUpstreamOnAllow: ["*-result", "bad header"]
    includeRequestBodyInCheck: {maxRequestBytes: 10}
- name: grpc
  envoyExtAuthzGrpc: {service: foo/ext-authz.foo.svc.cluster.local, port: 8000, timeout: 1s, failOpen: true, includeRequestBodyInCheck: {maxRequestBytes: 10}}
`;
const SE = { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'ext-authz', namespace: 'foo' }, spec: { hosts: ['ext-authz.foo.svc.cluster.local'], ports: [{ number: 8000, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC', endpoints: [{ address: '127.0.0.1' }] } };
const policy = (provider: string) => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'ext', namespace: 'foo' }, spec: { selector: { matchLabels: { app: 'httpbin' } }, action: 'CUSTOM', provider: { name: provider }, rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] } });

function snapshot(provider: string) {
  const mesh = parseMeshConfig(MESH).mesh;
  return analysisSnapshot([SE, policy(provider)] as Resource[], { configs: [], services: [], endpoints: [], workloads: [], mesh });
}
const proxyConfig = (authorization: unknown) => ({ node: NODE, mesh: { tracingSampling: 1, accessLog: { enabled: false, encoding: 'TEXT' }, autoMtls: true, outboundTrafficPolicy: 'ALLOW_ANY' }, listeners: [], routes: [], clusters: [], endpoints: [], secrets: [], authorization });

describe('AuthorizationPolicy CUSTOM translation', () => {
  it('resolves an envoyExtAuthzHttp provider to a mesh cluster the proxy validates', () => {
    const a = authorizationFor(snapshot('http'), { node: NODE })!;
    expect(a.policies).toEqual([]);
    expect(a.custom).toEqual([{
      name: 'foo/ext',
      rules: [{ to: [[{ attribute: 'request.path', values: ['/admin/*'] }]] }],
      provider: { name: 'http', cluster: 'outbound|8000||ext-authz.foo.svc.cluster.local', authority: 'ext-authz.foo.svc.cluster.local:8000', timeoutMs: 2000, pathPrefix: '/check', includeRequestHeaders: ['x-ext-authz', 'x-pass-*'], headersToUpstreamOnAllow: ['*-result'], statusOnError: 503 },
    }]);
    expect(validateProxyConfig(proxyConfig(a)).errors).toEqual([]);
  });

  it('an envoyExtAuthzGrpc provider resolves to the gRPC check of its service', () => {
    const a = authorizationFor(snapshot('grpc'), { node: NODE })!;
    expect(a.custom?.[0]?.provider).toEqual({ name: 'grpc', protocol: 'grpc', cluster: 'outbound|8000||ext-authz.foo.svc.cluster.local', authority: 'ext-authz.foo.svc.cluster.local:8000', timeoutMs: 1000, failOpen: true });
    expect(validateProxyConfig(proxyConfig(a)).errors).toEqual([]);
  });

  it('an unknown provider becomes a DENY of what the policy selects, reported in its status', () => {
    for (const name of ['nope']) {
      const snap = snapshot(name);
      const a = authorizationFor(snap, { node: NODE })!;
      expect(a.custom).toBeUndefined();
      expect(a.policies).toEqual([{ name: 'foo/ext', action: 'DENY', rules: [{ to: [[{ attribute: 'request.path', values: ['/admin/*'] }]] }] }]);
      const p = configProblems(snap).get('AuthorizationPolicy/foo/ext')!;
      expect(p.messages[0]!.type.code).toBe('BOWLINE_E_CONFIG_AUTHZ_PROVIDER');
      expect(p.messages[0]!.description).toContain(name);
    }
  });

  it('the proxy refuses a malformed provider', () => {
    const bad = { name: 'x', rules: [{}], provider: { name: 'p', cluster: 'c', authority: 'a:1', timeoutMs: 0, pathPrefix: 'check', headersToUpstreamOnAllow: ['Upper'], extra: 1 } };
    const paths = validateProxyConfig(proxyConfig({ policies: [], custom: [bad] })).errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['authorization.custom[0].provider.timeoutMs', 'authorization.custom[0].provider.pathPrefix', 'authorization.custom[0].provider.headersToUpstreamOnAllow[0]', 'authorization.custom[0].provider.extra']));
  });

  it('mesh config: provider fields the proxies do not act on are warned by name', () => {
    const w = parseMeshConfig(MESH).violations.filter((v) => v.code === 'BOWLINE_W_API_NOT_ENFORCED').map((v) => v.path);
    expect(w).toEqual(['extensionProviders[0].envoyExtAuthzHttp.includeRequestBodyInCheck', 'extensionProviders[1].envoyExtAuthzGrpc.includeRequestBodyInCheck']);
  });
});
