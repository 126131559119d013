import { describe, expect, it } from 'vitest';
import { parseAndValidate } from './index.js';

const head = (kind: string, apiVersion: string) => `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: t\n  namespace: default\nspec:\n`;
// Every spec body below starts on line 7.
const vs = (body: string) => head('VirtualService', 'networking.istio.io/v1') + body;
const dr = (body: string) => head('DestinationRule', 'networking.istio.io/v1') + body;
const gw = (body: string) => head('Gateway', 'networking.istio.io/v1') + body;
const se = (body: string) => head('ServiceEntry', 'networking.istio.io/v1') + body;
const ap = (body: string) => head('AuthorizationPolicy', 'security.istio.io/v1') + body;
const pa = (body: string) => head('PeerAuthentication', 'security.istio.io/v1') + body;
const ra = (body: string) => head('RequestAuthentication', 'security.istio.io/v1') + body;
const sc = (body: string) => head('Sidecar', 'networking.istio.io/v1') + body;
const route = `  hosts: [r]\n  http:\n  - route:\n    - destination: {host: r}\n`; // lines 7-10

interface Case { name: string; text: string; code: string; line: number; column?: number; path?: string }

const cases: Case[] = [
  { name: 'unknown field with did-you-mean', text: vs(`  hosts: [r]\n  htpp:\n  - route: [{destination: {host: r}}]\n`), code: 'BOWLINE_E_API_UNKNOWN_FIELD', line: 8, column: 3, path: 'spec.htpp' },
  { name: 'destination without host', text: vs(`  hosts: [r]\n  http:\n  - route:\n    - destination: {subset: v1}\n`), code: 'BOWLINE_E_API_REQUIRED', line: 10, path: 'spec.http[0].route[0].destination' },
  { name: 'bad duration', text: vs(route + `    timeout: 7 seconds\n`), code: 'BOWLINE_E_API_DURATION', line: 11, column: 14, path: 'spec.http[0].timeout' },
  { name: 'number as duration', text: vs(route + `    timeout: 10\n`), code: 'BOWLINE_E_API_TYPE', line: 11, path: 'spec.http[0].timeout' },
  { name: 'weights total zero', text: vs(`  hosts: [r]\n  http:\n  - route:\n    - destination: {host: r, subset: a}\n      weight: 0\n    - destination: {host: r, subset: b}\n      weight: 0\n`), code: 'BOWLINE_E_API_WEIGHT', line: 10, path: 'spec.http[0].route' },
  { name: 'negative weight', text: vs(`  hosts: [r]\n  http:\n  - route:\n    - destination: {host: r}\n      weight: -5\n`), code: 'BOWLINE_E_API_RANGE', line: 11, column: 15 },
  { name: 'redirect and route', text: vs(route + `    redirect: {uri: /x}\n`), code: 'BOWLINE_E_API_ROUTE_AND_REDIRECT', line: 11, column: 5 },
  { name: 'rule without route', text: vs(`  hosts: [r]\n  http:\n  - timeout: 5s\n`), code: 'BOWLINE_E_API_NO_ROUTE', line: 9, column: 5 },
  { name: 'StringMatch with two types', text: vs(`  hosts: [r]\n  http:\n  - match:\n    - uri: {exact: /a, prefix: /b}\n    route: [{destination: {host: r}}]\n`), code: 'BOWLINE_E_API_ONEOF', line: 10, path: 'spec.http[0].match[0].uri.prefix' },
  { name: 'lookahead regex', text: vs(`  hosts: [r]\n  http:\n  - match:\n    - uri:\n        regex: "/api(?!/internal)"\n    route: [{destination: {host: r}}]\n`), code: 'BOWLINE_E_API_REGEX', line: 11, column: 16 },
  { name: 'backreference regex', text: vs(`  hosts: [r]\n  http:\n  - match:\n    - headers:\n        x: {regex: "(a)\\\\1"}\n    route: [{destination: {host: r}}]\n`), code: 'BOWLINE_E_API_REGEX', line: 11 },
  { name: 'fault percent above 100', text: vs(route + `    fault:\n      abort: {httpStatus: 500, percentage: {value: 150}}\n`), code: 'BOWLINE_E_API_RANGE', line: 12 },
  { name: 'abort without status', text: vs(route + `    fault:\n      abort:\n        percentage: {value: 10}\n`), code: 'BOWLINE_E_API_FAULT', line: 13 },
  { name: 'delay with both percent spellings', text: vs(route + `    fault:\n      delay:\n        fixedDelay: 1s\n        percent: 5\n        percentage: {value: 5}\n`), code: 'BOWLINE_E_API_ONEOF', line: 14, column: 9 },
  { name: 'camel and snake of one field', text: vs(route + `    mirrorPercent: 5\n    mirror_percent: 5\n`), code: 'BOWLINE_E_API_DUPLICATE_FIELD', line: 12, column: 5 },
  { name: 'route as an object, not a list', text: vs(`  hosts: [r]\n  http:\n  - route:\n      destination: {host: r}\n`), code: 'BOWLINE_E_API_TYPE', line: 10, path: 'spec.http[0].route' },
  { name: 'bad wildcard host', text: vs(`  hosts: ["foo.*.com"]\n  http:\n  - route: [{destination: {host: r}}]\n`), code: 'BOWLINE_E_API_HOST', line: 7, path: 'spec.hosts[0]' },
  { name: 'no rules at all', text: vs(`  hosts: [r]\n`), code: 'BOWLINE_E_API_NO_RULES', line: 7 },
  { name: 'redirect code not 3xx', text: vs(`  hosts: [r]\n  http:\n  - redirect:\n      uri: /x\n      redirectCode: 200\n`), code: 'BOWLINE_E_API_RANGE', line: 11, column: 21 },
  { name: 'port out of range', text: vs(`  hosts: [r]\n  http:\n  - route:\n    - destination:\n        host: r\n        port: {number: 70000}\n`), code: 'BOWLINE_E_API_RANGE', line: 12 },
  { name: 'boolean where a string is expected', text: vs(`  hosts: [r]\n  http:\n  - match:\n    - headers:\n        x-debug: {exact: true}\n    route: [{destination: {host: r}}]\n`), code: 'BOWLINE_E_API_TYPE', line: 11 },
  { name: 'label key invalid', text: vs(`  hosts: [r]\n  http:\n  - match:\n    - sourceLabels: {"-bad": x}\n    route: [{destination: {host: r}}]\n`), code: 'BOWLINE_E_API_KEY', line: 10 },
  { name: 'duplicate subset', text: dr(`  host: reviews\n  subsets:\n  - name: v1\n    labels: {version: v1}\n  - name: v1\n    labels: {version: v2}\n`), code: 'BOWLINE_E_API_DUPLICATE_SUBSET', line: 11, column: 11 },
  { name: 'destination rule without host', text: dr(`  subsets:\n  - name: v1\n`), code: 'BOWLINE_E_API_REQUIRED', line: 7 },
  { name: 'unknown load balancer', text: dr(`  host: r\n  trafficPolicy:\n    loadBalancer:\n      simple: ROUND_ROBBIN\n`), code: 'BOWLINE_E_API_ENUM', line: 10, column: 15 },
  { name: 'ISTIO_MUTUAL with own certificates', text: dr(`  host: r\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n      clientCertificate: /etc/c.pem\n`), code: 'BOWLINE_E_API_TLS', line: 11, column: 7 },
  { name: 'outlier percent above 100', text: dr(`  host: r\n  trafficPolicy:\n    outlierDetection:\n      maxEjectionPercent: 101\n`), code: 'BOWLINE_E_API_RANGE', line: 10 },
  { name: 'subset without name', text: dr(`  host: r\n  subsets:\n  - labels: {version: v1}\n`), code: 'BOWLINE_E_API_REQUIRED', line: 9 },
  { name: 'gateway server without port', text: gw(`  selector: {istio: ingressgateway}\n  servers:\n  - hosts: ["*"]\n`), code: 'BOWLINE_E_API_REQUIRED', line: 9 },
  { name: 'gateway unknown protocol', text: gw(`  servers:\n  - port: {number: 80, name: http, protocol: HTTTP}\n    hosts: ["*"]\n`), code: 'BOWLINE_E_API_PROTOCOL', line: 8 },
  { name: 'HTTPS server without tls', text: gw(`  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n`), code: 'BOWLINE_E_API_TLS', line: 8 },
  { name: 'gateway host with two slashes', text: gw(`  servers:\n  - port: {number: 80, name: http, protocol: http}\n    hosts: ["a/b/c"]\n`), code: 'BOWLINE_E_API_HOST', line: 9 },
  { name: 'service entry bad resolution', text: se(`  hosts: [api.example.com]\n  ports: [{number: 443, name: https, protocol: TLS}]\n  resolution: DNSS\n`), code: 'BOWLINE_E_API_ENUM', line: 9 },
  { name: 'service entry STATIC without endpoints', text: se(`  hosts: [api.example.com]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: STATIC\n`), code: 'BOWLINE_E_API_ENDPOINTS', line: 7 },
  { name: 'service entry port without name', text: se(`  hosts: [api.example.com]\n  ports:\n  - number: 80\n    protocol: HTTP\n`), code: 'BOWLINE_E_API_REQUIRED', line: 9 },
  { name: 'service entry bad address', text: se(`  hosts: [db.internal]\n  addresses: [10.0.0.300/24]\n`), code: 'BOWLINE_E_API_CIDR', line: 8 },
  { name: 'service entry duplicate port', text: se(`  hosts: [x.example.com]\n  ports:\n  - {number: 80, name: a, protocol: HTTP}\n  - {number: 80, name: b, protocol: HTTP}\n`), code: 'BOWLINE_E_API_DUPLICATE_PORT', line: 10 },
  { name: 'CUSTOM authorization action with a source the external authorizer cannot judge', text: ap(`  action: CUSTOM\n  provider: {name: ext-authz}\n  rules:\n  - from:\n    - source:\n        principals: [a]\n`), code: 'BOWLINE_E_API_CUSTOM_ACTION', line: 12, column: 9 },
  { name: 'CUSTOM authorization action without provider', text: ap(`  action: CUSTOM\n  rules: [{}]\n`), code: 'BOWLINE_E_API_CUSTOM_ACTION', line: 7 },
  { name: 'serviceAccounts with principals (would widen the rule)', text: ap(`  rules:\n  - from:\n    - source:\n        principals: [a]\n        serviceAccounts: [ns/sa]\n`), code: 'BOWLINE_E_API_SERVICE_ACCOUNTS', line: 11, column: 9 },
  { name: 'unknown condition key', text: ap(`  rules:\n  - when:\n    - key: request.header[x]\n      values: [a]\n`), code: 'BOWLINE_E_API_CONDITION', line: 9 },
  { name: 'DENY without rules', text: ap(`  action: DENY\n`), code: 'BOWLINE_E_API_DENY_NO_RULES', line: 7 },
  { name: 'authorization condition without values', text: ap(`  rules:\n  - when:\n    - key: request.headers[x]\n`), code: 'BOWLINE_E_API_CONDITION', line: 9 },
  { name: 'authorization bad ipBlock', text: ap(`  rules:\n  - from:\n    - source: {ipBlocks: ["10.0.0.0/33"]}\n`), code: 'BOWLINE_E_API_CIDR', line: 9 },
  { name: 'authorization unknown action', text: ap(`  action: allow\n`), code: 'BOWLINE_E_API_ENUM', line: 7 },
  { name: 'peer authentication bad mode', text: pa(`  mtls:\n    mode: STRICTT\n`), code: 'BOWLINE_E_API_ENUM', line: 8, column: 11 },
  { name: 'portLevelMtls key not a port', text: pa(`  selector: {matchLabels: {app: a}}\n  portLevelMtls:\n    http: {mode: DISABLE}\n`), code: 'BOWLINE_E_API_KEY', line: 9 },
  { name: 'jwt rule without issuer', text: ra(`  jwtRules:\n  - jwksUri: https://example.com/jwks\n`), code: 'BOWLINE_E_API_REQUIRED', line: 8 },
  { name: 'sidecar egress host without namespace', text: sc(`  egress:\n  - hosts: ["foo.com"]\n`), code: 'BOWLINE_E_API_HOST', line: 8 },
  { name: 'wrong apiVersion', text: head('AuthorizationPolicy', 'networking.istio.io/v1') + `  action: DENY\n`, code: 'BOWLINE_E_API_VERSION', line: 1, column: 13 },
  { name: 'misspelled kind', text: head('VirtualSevice', 'networking.istio.io/v1') + route, code: 'BOWLINE_E_API_UNKNOWN_KIND', line: 2, column: 7 },
  { name: 'other platform kind', text: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n', code: 'BOWLINE_E_API_UNKNOWN_KIND', line: 2 },
  { name: 'missing metadata name', text: 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  namespace: default\nspec:\n' + route, code: 'BOWLINE_E_API_REQUIRED', line: 4 },
  { name: 'upper-case resource name', text: 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: Reviews\nspec:\n' + route, code: 'BOWLINE_E_API_NAME', line: 4, column: 9 },
  { name: 'missing spec', text: 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: x\n', code: 'BOWLINE_E_API_REQUIRED', line: 1 },
  { name: 'document is a list', text: '- apiVersion: networking.istio.io/v1\n  kind: VirtualService\n', code: 'BOWLINE_E_API_NOT_OBJECT', line: 1 },
  { name: 'tab indentation', text: 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n\tname: x\n', code: 'BOWLINE_E_API_YAML_TAB', line: 4 },
  { name: 'duplicate key', text: vs(route + `  hosts: [s]\n`), code: 'BOWLINE_E_API_DUPLICATE_KEY', line: 11, column: 3 },
  { name: 'unclosed flow map', text: vs(`  hosts: [r\n  http: []\n`), code: 'BOWLINE_E_API_YAML_INDENT', line: 8 },
  { name: 'second document of a file', text: vs(route) + '---\n' + dr(`  host: r\n  trafficPolicy: {loadBalancer: {simple: FASTEST}}\n`), code: 'BOWLINE_E_API_ENUM', line: 19, column: 42 },
];

describe('invalid documents report the right code at the right line', () => {
  it('has at least 40 cases', () => expect(cases.length).toBeGreaterThanOrEqual(40));
  for (const c of cases) {
    it(c.name, () => {
      const { violations } = parseAndValidate(c.text, { file: 'in.yaml' });
      const errors = violations.filter((v) => v.severity === 'error');
      const hit = errors.find((v) => v.code === c.code && v.line === c.line && (c.column === undefined || v.column === c.column) && (c.path === undefined || v.path === c.path));
      expect(hit, `expected ${c.code} at line ${c.line}${c.column ? `:${c.column}` : ''}; got\n${errors.map((v) => `${v.line}:${v.column} ${v.code} ${v.path}: ${v.message}`).join('\n')}`).toBeDefined();
      expect(hit!.file).toBe('in.yaml');
      expect(hit!.message.length).toBeGreaterThan(10);
    });
  }
});

describe('the broken-indentation VirtualService', () => {
  const text = [
    'apiVersion: networking.istio.io/v1alpha3', // 1
    'kind: VirtualService', // 2
    'metadata:', // 3
    '  name: reviews', // 4
    'spec:', // 5
    '  hosts:', // 6
    '  - reviews', // 7
    '  http:', // 8
    '  - headers: {end-user: {exact: jason}}', // 9
    'route:', // 10
    '- destination:', // 11
    '    host: reviews', // 12
    '    subset: v2', // 13
  ].join('\n');
  const { violations } = parseAndValidate(text, { file: 'reviews.yaml' });
  const at = (code: string, path: string) => violations.find((v) => v.code === code && v.path === path);

  it('reports the top-level route with a hint that it belongs inside an http rule', () => {
    const v = at('BOWLINE_E_API_UNKNOWN_FIELD', 'route');
    expect(v).toMatchObject({ line: 10, column: 1, severity: 'error' });
    expect(v!.hint).toMatch(/inside an http rule/);
  });
  it('reports headers.end-user as unknown, hinting at a match condition', () => {
    const v = at('BOWLINE_E_API_UNKNOWN_FIELD', 'spec.http[0].headers.end-user');
    expect(v).toMatchObject({ line: 9, column: 15 });
    expect(v!.hint).toMatch(/match condition.*match:/);
  });
  it('reports the rule that has no route', () => {
    expect(at('BOWLINE_E_API_NO_ROUTE', 'spec.http[0]')).toMatchObject({ line: 9, column: 5 });
  });
  it('gives each error its own line', () => {
    const lines = violations.filter((v) => v.severity === 'error').map((v) => v.line);
    expect(new Set(lines).size).toBeGreaterThanOrEqual(2);
    expect(lines).toContain(10);
  });
});
