import { describe, expect, it } from 'vitest';
import { checkRe2, kinds, MAX_INPUT_CHARS, normalize, parseAndValidate, parseDuration, parseMeshConfig, validateObject, type DestinationRuleSpec } from './index.js';

const codes = (text: string, opts = {}) => parseAndValidate(text, opts).violations.map((v) => `${v.severity}:${v.code}`);
const vsHead = 'apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: r}\nspec:\n';

describe('durations', () => {
  it('parses what Istio accepts', () => {
    expect(parseDuration('7s')).toBe(7000);
    expect(parseDuration('0.5s')).toBe(500);
    expect(parseDuration('100ms')).toBe(100);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('0')).toBe(0);
  });
  it('rejects the rest', () => {
    for (const s of ['7', '', 's', '-1s', '1d', '7 s', '1.2.3s', 'abc']) expect(parseDuration(s)).toBeUndefined();
  });
});

describe('RE2 regexes', () => {
  it('accepts RE2 syntax', () => {
    for (const p of ['^/api/v[0-9]+/.*$', '(?i)jason', '\\d{3}', '(?P<id>[a-z]+)', '[[:alpha:]]+']) expect(checkRe2(p)).toBeUndefined();
  });
  it('rejects lookaround, backreferences and bad syntax with the reason', () => {
    expect(checkRe2('foo(?=bar)')).toMatch(/lookahead/);
    expect(checkRe2('(?<!x)y')).toMatch(/lookbehind/);
    expect(checkRe2('(a)\\1')).toMatch(/backreference/);
    expect(checkRe2('[a-')).toMatch(/missing closing/);
  });
});

describe('what Istio accepts is never rejected', () => {
  it('snake_case and camelCase spellings, protocol names in any case, quoted ints', () => {
    const text = `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: r}
spec:
  host: r
  traffic_policy:
    connection_pool:
      http: {http1_max_pending_requests: "10", h2_upgrade_policy: UPGRADE}
    outlier_detection: {consecutive_5xx_errors: 3, base_ejection_time: 30s}
    load_balancer:
      consistent_hash: {http_header_name: x-user, minimum_ring_size: 1024}
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: g}
spec:
  servers:
  - port: {number: 80, name: http, protocol: http}
    hosts: ["./*", "*.example.com"]
  - port: {number: 9000, name: grpc, protocol: grpc}
    hosts: ["*"]
  - port: {number: 27017, name: mongo, protocol: Mongo}
    hosts: ["*"]
`;
    const r = parseAndValidate(text);
    expect(r.violations.filter((v) => v.severity === 'error')).toEqual([]);
    const dr = normalize<DestinationRuleSpec>(r.documents[0]!.resource!);
    expect(dr.spec.trafficPolicy!.connectionPool!.http!.http1MaxPendingRequests).toBe(10);
    expect(dr.spec.trafficPolicy!.outlierDetection!.consecutive5xxErrors).toBe(3);
    expect(dr.spec.trafficPolicy!.loadBalancer!.consistentHash).toEqual({ httpHeaderName: 'x-user', ringHash: { minimumRingSize: 1024 } });
  });
  it('weights that do not total 100 are a warning only', () => {
    const c = codes(vsHead + '  hosts: [r]\n  http:\n  - route:\n    - {destination: {host: r, subset: a}, weight: 1}\n    - {destination: {host: r, subset: b}, weight: 3}\n');
    expect(c).toContain('warning:BOWLINE_W_API_WEIGHT_TOTAL');
    expect(c.filter((x) => x.startsWith('error'))).toEqual([]);
  });
  it('analyzer findings are warnings', () => {
    const text = vsHead + `  hosts: [r]
  gateways: [gw]
  http:
  - route: [{destination: {host: r, subset: v9}}]
  - match: [{sourceLabels: {app: a}}]
    route: [{destination: {host: r}}]
`;
    const r = parseAndValidate(text);
    expect(r.violations.map((v) => v.code).filter((c) => c !== 'BOWLINE_W_API_NOT_ENFORCED').sort()).toEqual(['BOWLINE_W_API_SOURCE_LABELS_GATEWAY', 'BOWLINE_W_API_UNKNOWN_SUBSET', 'BOWLINE_W_API_UNREACHABLE_RULE']);
    expect(r.violations.every((v) => v.severity === 'warning' && v.line! > 0)).toBe(true);
    expect(r.documents[0]!.resource).toBeDefined();
  });
  it('other kinds are errors unless ignored; the istio ConfigMap is understood', () => {
    const text = 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    trustDomain: example.org\n';
    expect(codes(text)).toEqual(['error:BOWLINE_E_API_UNKNOWN_KIND']);
    const r = parseAndValidate(text, { ignoreUnknownKinds: true });
    expect(r.violations).toEqual([]);
    expect(r.documents[1]!.meshConfig!.trustDomain).toBe('example.org');
  });
});

describe('bad input', () => {
  it('an alias bomb is refused without expanding it', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill('*' + String.fromCharCode(96 + i)).join(', ')}]`);
    // Expanded, the bomb is 10^9 nodes: the parse would never return (the test's timeout) or run out of memory.
    expect(codes(lines.join('\n'))).toContain('error:BOWLINE_E_API_ALIAS_BOMB');
  });
  it('anchors and aliases in moderation work, with positions', () => {
    const text = vsHead + '  hosts: [r]\n  http:\n  - route: &rt\n    - destination: {host: r}\n  - match: [{uri: {prefix: /a}}]\n    route: *rt\n';
    expect(parseAndValidate(text).violations.map((v) => v.code)).toEqual(['BOWLINE_W_API_UNREACHABLE_RULE']);
  });
  it('too large, binary and empty input', () => {
    expect(codes('#'.repeat(MAX_INPUT_CHARS + 1))).toEqual(['error:BOWLINE_E_API_TOO_LARGE']);
    expect(codes('\u0000\u0001\u0002garbage\u0000')).toEqual(['error:BOWLINE_E_API_BINARY']);
    expect(codes('')).toEqual([]);
    expect(codes('---\n---\n# only comments\n')).toEqual([]);
  });
  it('JSON input gets lines too', () => {
    const r = parseAndValidate('{\n  "apiVersion": "networking.istio.io/v1",\n  "kind": "Gateway",\n  "metadata": {"name": "g"},\n  "spec": {"servers": [{"port": {"number": 80, "protocol": "HTTP"}, "hosts": ["*"], "tsl": {}}]}\n}\n', { file: 'g.json' });
    expect(r.violations).toMatchObject([{ code: 'BOWLINE_E_API_UNKNOWN_FIELD', line: 5, path: 'spec.servers[0].tsl', hint: 'did you mean tls?' }]);
  });
});

describe('validateObject, kinds and mesh config', () => {
  it('validates config-API JSON without positions', () => {
    const vs = validateObject({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'r' }, spec: { hosts: ['r'], http: [{ route: [{ destination: { host: 'r' } }], timout: '1s' }] } });
    expect(vs).toMatchObject([{ code: 'BOWLINE_E_API_UNKNOWN_FIELD', path: 'spec.http[0].timout', hint: 'did you mean timeout?' }]);
  });
  it('has REST metadata for every kind', () => {
    expect(kinds.VirtualService).toMatchObject({ group: 'networking.istio.io', plural: 'virtualservices', shortNames: ['vs'] });
    expect(kinds.AuthorizationPolicy.shortNames).toEqual(['ap']);
    expect(Object.keys(kinds)).toHaveLength(14);
    expect(kinds.Telemetry).toMatchObject({ group: 'telemetry.istio.io', versions: ['v1', 'v1alpha1'], plural: 'telemetries' });
  });
  it('mesh config defaults and errors', () => {
    expect(parseMeshConfig('').mesh).toMatchObject({ trustDomain: 'cluster.local', rootNamespace: 'istio-system', outboundTrafficPolicy: { mode: 'ALLOW_ANY' } });
    const r = parseMeshConfig('outboundTrafficPolicy:\n  mode: DENY_ALL\nfooBar: 1\n', { file: 'mesh.yaml' });
    expect(r.violations.map((v) => `${v.line} ${v.code}`)).toEqual(['2 BOWLINE_E_API_ENUM', '3 BOWLINE_W_API_MESH_UNKNOWN_FIELD']);
  });
  it('mesh config fields Bowline does not act on are warned by path at their key', () => {
    const text = 'trustDomain: example.org\ningressClass: istio\ndefaultConfig:\n  drainDuration: 30s\n  statusPort: 15020\n  terminationDrainDuration: 10s\n  tracing:\n    sampling: 10\n    maxPathTagLength: 99\npolicyCheckFailOpen: true\n';
    const r = parseMeshConfig(text, { file: 'mesh.yaml' });
    expect(r.violations.map((v) => `${v.file}:${v.line}:${v.column} ${v.code} ${v.path}`)).toEqual([
      'mesh.yaml:2:1 BOWLINE_W_API_NOT_ENFORCED ingressClass',
      'mesh.yaml:5:3 BOWLINE_W_API_NOT_ENFORCED defaultConfig.statusPort',
      'mesh.yaml:9:5 BOWLINE_W_API_NOT_ENFORCED defaultConfig.tracing.maxPathTagLength',
      'mesh.yaml:10:1 BOWLINE_W_API_NOT_ENFORCED policyCheckFailOpen',
    ]);
    expect(r.violations[0]!.message).toBe('MeshConfig ingressClass is accepted but Bowline does not act on it');
    expect(r.violations[3]!.message).toContain('removed from Istio');
    // The merged mesh config is unchanged by the warnings.
    expect(r.mesh).toMatchObject({ trustDomain: 'example.org', ingressClass: 'istio', policyCheckFailOpen: true, defaultConfig: { statusPort: 15020, drainDuration: '30s', tracing: { sampling: 10, maxPathTagLength: 99 } } });
  });
  it('mesh config fields Bowline acts on, and unknown fields, get no not-enforced warning', () => {
    const text = [
      'trustDomain: example.org', 'trustDomainAliases: [old.org]', 'rootNamespace: istio-system', 'enableAutoMtls: false',
      'outboundTrafficPolicy: {mode: REGISTRY_ONLY}', 'accessLogFile: /dev/stdout', 'accessLogEncoding: JSON', 'accessLogFormat: \'{"c": "%RESPONSE_CODE%"}\'',
      'enableTracing: true', 'pathNormalization: {normalization: MERGE_SLASHES}', 'discoverySelectors: [{matchLabels: {mesh: "yes"}}]',
      'extensionProviders: [{name: z, zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}}]', 'defaultProviders: {tracing: [z]}',
      'defaultConfig: {drainDuration: 30s, tracing: {sampling: 5, zipkin: {address: "zipkin:9411"}}}', 'fooBar: 1', '',
    ].join('\n');
    const r = parseMeshConfig(text);
    expect(r.violations.map((v) => `${v.code} ${v.path}`)).toEqual(['BOWLINE_W_API_MESH_UNKNOWN_FIELD fooBar']);
  });
  it('the istio ConfigMap names not-enforced mesh fields at their line in the file', () => {
    const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    trustDomain: example.org\n    ingressClass: istio\n    defaultConfig:\n      statusPort: 15020\n';
    const r = parseAndValidate(text, { file: 'istio.yaml' });
    expect(r.violations.map((v) => `${v.file}:${v.line}:${v.column} ${v.code} ${v.path}`)).toEqual([
      'istio.yaml:7:5 BOWLINE_W_API_NOT_ENFORCED data.mesh: ingressClass',
      'istio.yaml:9:7 BOWLINE_W_API_NOT_ENFORCED data.mesh: defaultConfig.statusPort',
    ]);
  });
});
