// Validation equal to Istio's current CRDs (istio/api x-kubernetes-validations and Istio's webhook):
// our own cases, written from what those rules say. Valid documents are accepted with no error;
// each invalid document is refused with the named code at the named path.
import { describe, expect, it } from 'vitest';
import { parseAndValidate } from './parse.js';

const doc = (apiVersion: string, kind: string, spec: string) => `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: t, namespace: shop}\nspec:\n${spec}`;
const net = (kind: string, spec: string) => doc('networking.istio.io/v1', kind, spec);
const sec = (kind: string, spec: string) => doc('security.istio.io/v1', kind, spec);
const tel = (spec: string) => doc('telemetry.istio.io/v1', 'Telemetry', spec);

function errors(text: string): string[] {
  return parseAndValidate(text, { analyze: false }).violations.filter((v) => v.severity === 'error').map((v) => `${v.code} ${v.path}`);
}

const valid: Array<[string, string]> = [
  ['AuthorizationPolicy with trustDomains and serviceAccounts', sec('AuthorizationPolicy', '  rules:\n  - from:\n    - source:\n        serviceAccounts: [shop/cart, web]\n        notTrustDomains: ["*.untrusted"]\n    - source:\n        trustDomains: [corp.example]\n        ipBlocks: [10.1.0.0/16]\n')],
  ['AuthorizationPolicy CUSTOM with a provider and HTTP-only rules', sec('AuthorizationPolicy', '  action: CUSTOM\n  provider: {name: opa}\n  rules:\n  - to:\n    - operation: {paths: ["/admin/*"], methods: [POST]}\n    when:\n    - key: request.headers[x-tenant]\n      values: [a]\n')],
  ['AuthorizationPolicy DENY with an empty rule (deny all)', sec('AuthorizationPolicy', '  action: DENY\n  rules: [{}]\n')],
  ['AuthorizationPolicy targetRefs in the own namespace', sec('AuthorizationPolicy', '  targetRefs:\n  - {kind: Gateway, group: gateway.networking.k8s.io, name: edge}\n  rules: [{}]\n')],
  ['RequestAuthentication newer jwt fields', sec('RequestAuthentication', '  jwtRules:\n  - issuer: https://id.example\n    jwksUri: https://id.example/keys\n    spaceDelimitedClaims: [scope, roles]\n    presence: REQUIRED\n    timeout: 3s\n')],
  ['DestinationRule http2KeepAlive, zone-aware LB, outlier codes, retry budget', net('DestinationRule', '  host: cart\n  trafficPolicy:\n    connectionPool:\n      http:\n        http2KeepAlive: {interval: 30s, timeout: 5s}\n    loadBalancer:\n      zoneAwareLbSetting: {enabled: true, minClusterSize: 3}\n    outlierDetection:\n      outlierDetectionHttpErrorCodes: [500, 503]\n    retryBudget: {percent: 25, minRetryConcurrency: 3, budgetInterval: 10s}\n')],
  ['DestinationRule utilization-based LB', net('DestinationRule', '  host: cart\n  trafficPolicy:\n    loadBalancer:\n      backendUtilization: {errorUtilizationPenaltyPercent: 50, weightUpdatePeriod: 1s}\n')],
  ['Gateway tls with caCertCredentialName and ecdhCurves', net('Gateway', '  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls: {mode: MUTUAL, credentialName: edge-cert, caCertCredentialName: edge-ca, ecdhCurves: [X25519]}\n')],
  ['VirtualService "*" bound only to a gateway', net('VirtualService', '  hosts: ["*"]\n  gateways: [edge]\n  http:\n  - route: [{destination: {host: cart}}]\n')],
  ['VirtualService redirect prefixRewrite', net('VirtualService', '  hosts: [old]\n  http:\n  - redirect: {prefixRewrite: /v2/, authority: new}\n')],
  ['ServiceEntry CIDR address with resolution NONE', net('ServiceEntry', '  hosts: [db.internal]\n  addresses: [10.20.0.0/16]\n  ports: [{number: 5432, name: pg, protocol: TCP}]\n  resolution: NONE\n')],
  ['ServiceEntry endpoint reached through a network only', net('ServiceEntry', '  hosts: [vm.internal]\n  ports: [{number: 80, name: http}]\n  resolution: STATIC\n  endpoints:\n  - {network: east, labels: {app: vm}}\n')],
  ['WorkloadEntry on a unix socket', net('WorkloadEntry', '  address: unix:///var/run/app.sock\n')],
  ['WorkloadGroup with a template without address and an HTTP probe', net('WorkloadGroup', '  metadata: {labels: {app: billing}}\n  template: {serviceAccount: billing, ports: {http: 8080}}\n  probe:\n    periodSeconds: 5\n    httpGet: {path: /ready, port: 8080, httpHeaders: [{name: x-probe, value: "1"}]}\n')],
  ['Telemetry tracing, metrics, access logging', tel('  selector: {matchLabels: {app: cart}}\n  tracing:\n  - providers: [{name: zipkin}]\n    randomSamplingPercentage: 10\n    customTags:\n      team: {literal: {value: shop}}\n  metrics:\n  - overrides:\n    - match: {metric: REQUEST_COUNT, mode: SERVER}\n      tagOverrides:\n        request_protocol: {operation: REMOVE}\n        tenant: {value: "request.headers[\'x-tenant\']"}\n  accessLogging:\n  - providers: [{name: envoy}]\n    filter: {expression: "response.code >= 400"}\n')],
  ['Telemetry v1alpha1', doc('telemetry.istio.io/v1alpha1', 'Telemetry', '  accessLogging:\n  - disabled: true\n')],
  ['ProxyConfig', doc('networking.istio.io/v1beta1', 'ProxyConfig', '  selector: {matchLabels: {app: cart}}\n  concurrency: 2\n  environmentVariables: {LOG_LEVEL: debug}\n  image: {imageType: distroless}\n')],
];

const invalid: Array<[string, string, string]> = [
  ['serviceAccounts with namespaces', sec('AuthorizationPolicy', '  rules:\n  - from:\n    - source: {namespaces: [shop], serviceAccounts: [shop/cart]}\n'), 'BOWLINE_E_API_SERVICE_ACCOUNTS spec.rules[0].from[0].source.serviceAccounts'],
  ['notServiceAccounts with notPrincipals', sec('AuthorizationPolicy', '  rules:\n  - from:\n    - source: {notPrincipals: [x], notServiceAccounts: [cart]}\n'), 'BOWLINE_E_API_SERVICE_ACCOUNTS spec.rules[0].from[0].source.notServiceAccounts'],
  ['a service account with a wildcard', sec('AuthorizationPolicy', '  rules:\n  - from:\n    - source: {serviceAccounts: ["shop/*"]}\n'), 'BOWLINE_E_API_SERVICE_ACCOUNT spec.rules[0].from[0].source.serviceAccounts[0]'],
  ['a service account with two slashes', sec('AuthorizationPolicy', '  rules:\n  - from:\n    - source: {serviceAccounts: [a/b/c]}\n'), 'BOWLINE_E_API_SERVICE_ACCOUNT spec.rules[0].from[0].source.serviceAccounts[0]'],
  ['a trust domain with a slash', sec('AuthorizationPolicy', '  rules:\n  - from:\n    - source: {trustDomains: [a/b]}\n'), 'BOWLINE_E_API_TRUST_DOMAIN spec.rules[0].from[0].source.trustDomains[0]'],
  ['an empty source', sec('AuthorizationPolicy', '  rules:\n  - from:\n    - source: {}\n'), 'BOWLINE_E_API_EMPTY spec.rules[0].from[0].source'],
  ['an empty principal', sec('AuthorizationPolicy', '  rules:\n  - from:\n    - source: {principals: [""]}\n'), 'BOWLINE_E_API_EMPTY spec.rules[0].from[0].source.principals[0]'],
  ['CUSTOM with namespaces', sec('AuthorizationPolicy', '  action: CUSTOM\n  provider: {name: opa}\n  rules:\n  - from:\n    - source: {namespaces: [shop]}\n'), 'BOWLINE_E_API_CUSTOM_ACTION spec.rules[0].from[0].source.namespaces'],
  ['CUSTOM with a request.auth condition', sec('AuthorizationPolicy', '  action: CUSTOM\n  provider: {name: opa}\n  rules:\n  - when:\n    - {key: "request.auth.claims[iss]", values: [x]}\n'), 'BOWLINE_E_API_CUSTOM_ACTION spec.rules[0].when[0].key'],
  ['CUSTOM without rules', sec('AuthorizationPolicy', '  action: CUSTOM\n  provider: {name: opa}\n'), 'BOWLINE_E_API_CUSTOM_ACTION spec.action'],
  ['a condition on source.ip that is no address', sec('AuthorizationPolicy', '  rules:\n  - when:\n    - {key: source.ip, values: [not-an-ip]}\n'), 'BOWLINE_E_API_CONDITION spec.rules[0].when[0].values[0]'],
  ['destination.labels as a condition', sec('AuthorizationPolicy', '  rules:\n  - when:\n    - {key: "destination.labels[app]", values: [x]}\n'), 'BOWLINE_E_API_CONDITION spec.rules[0].when[0].key'],
  ['targetRef in another namespace', sec('AuthorizationPolicy', '  targetRef: {kind: Gateway, name: edge, namespace: other}\n'), 'BOWLINE_E_API_TARGET_REF spec.targetRef.namespace'],
  ['targetRef kind that is no kind name', sec('RequestAuthentication', '  targetRef: {kind: "gate way", name: edge}\n'), 'BOWLINE_E_API_TARGET_REF spec.targetRef.kind'],
  ['jwt presence value', sec('RequestAuthentication', '  jwtRules:\n  - {issuer: x, presence: ALWAYS}\n'), 'BOWLINE_E_API_ENUM spec.jwtRules[0].presence'],
  ['an empty audience', sec('RequestAuthentication', '  jwtRules:\n  - {issuer: x, audiences: [""]}\n'), 'BOWLINE_E_API_EMPTY spec.jwtRules[0].audiences[0]'],
  ['a claim header with a space', sec('RequestAuthentication', '  jwtRules:\n  - issuer: x\n    outputClaimToHeaders: [{header: "x user", claim: sub}]\n'), 'BOWLINE_E_API_KEY spec.jwtRules[0].outputClaimToHeaders[0].header'],
  ['empty portLevelMtls', sec('PeerAuthentication', '  selector: {matchLabels: {app: a}}\n  portLevelMtls: {}\n'), 'BOWLINE_E_API_EMPTY spec.portLevelMtls'],
  ['ServiceEntry host "*"', net('ServiceEntry', '  hosts: ["*"]\n  ports: [{number: 80, name: http}]\n'), 'BOWLINE_E_API_HOST spec.hosts[0]'],
  ['ServiceEntry NONE with endpoints', net('ServiceEntry', '  hosts: [a.example]\n  ports: [{number: 80, name: http}]\n  resolution: NONE\n  endpoints: [{address: 10.0.0.1}]\n'), 'BOWLINE_E_API_ENDPOINTS spec.endpoints'],
  ['ServiceEntry DNS_ROUND_ROBIN with two endpoints', net('ServiceEntry', '  hosts: [a.example]\n  ports: [{number: 80, name: http}]\n  resolution: DNS_ROUND_ROBIN\n  endpoints: [{address: a1.example}, {address: a2.example}]\n'), 'BOWLINE_E_API_ENDPOINTS spec.endpoints'],
  ['ServiceEntry CIDR with DNS', net('ServiceEntry', '  hosts: [a.example]\n  addresses: [10.0.0.0/8]\n  ports: [{number: 80, name: http}]\n  resolution: DNS\n'), 'BOWLINE_E_API_CIDR spec.addresses[0]'],
  ['ServiceEntry duplicate port name', net('ServiceEntry', '  hosts: [a.example]\n  ports: [{number: 80, name: web}, {number: 81, name: web}]\n'), 'BOWLINE_E_API_DUPLICATE_PORT spec.ports[1].name'],
  ['ServiceEntry endpoint without address or network', net('ServiceEntry', '  hosts: [a.example]\n  ports: [{number: 80, name: http}]\n  resolution: STATIC\n  endpoints: [{labels: {app: a}}]\n'), 'BOWLINE_E_API_ADDRESS spec.endpoints[0]'],
  ['WorkloadEntry without address or network', net('WorkloadEntry', '  labels: {app: vm}\n'), 'BOWLINE_E_API_ADDRESS spec'],
  ['WorkloadEntry unix socket with ports', net('WorkloadEntry', '  address: unix:///run/a.sock\n  ports: {http: 80}\n'), 'BOWLINE_E_API_ADDRESS spec.ports'],
  ['WorkloadEntry relative unix socket', net('WorkloadEntry', '  address: unix://run/a.sock\n'), 'BOWLINE_E_API_ADDRESS spec.address'],
  ['mesh VirtualService with host "*"', net('VirtualService', '  hosts: ["*"]\n  http:\n  - route: [{destination: {host: cart}}]\n'), 'BOWLINE_E_API_HOST spec.hosts[0]'],
  ['VirtualService "*" bound to mesh and a gateway', net('VirtualService', '  hosts: ["*"]\n  gateways: [mesh, edge]\n  http:\n  - route: [{destination: {host: cart}}]\n'), 'BOWLINE_E_API_HOST spec.hosts[0]'],
  ['Gateway with credentialName and credentialNames', net('Gateway', '  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls: {mode: SIMPLE, credentialName: a, credentialNames: [b]}\n'), 'BOWLINE_E_API_ONEOF spec.servers[0].tls.credentialNames'],
  ['Gateway with three credentialNames', net('Gateway', '  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls: {mode: SIMPLE, credentialNames: [a, b, c]}\n'), 'BOWLINE_E_API_RANGE spec.servers[0].tls.credentialNames'],
  ['DestinationRule keepalive under 1ms', net('DestinationRule', '  host: cart\n  trafficPolicy:\n    connectionPool:\n      http: {http2KeepAlive: {interval: 0s}}\n'), 'BOWLINE_E_API_RANGE spec.trafficPolicy.connectionPool.http.http2KeepAlive.interval'],
  ['DestinationRule outlier code 99', net('DestinationRule', '  host: cart\n  trafficPolicy:\n    outlierDetection: {outlierDetectionHttpErrorCodes: [99]}\n'), 'BOWLINE_E_API_RANGE spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes[0]'],
  ['DestinationRule simple and backendUtilization', net('DestinationRule', '  host: cart\n  trafficPolicy:\n    loadBalancer: {simple: RANDOM, backendUtilization: {}}\n'), 'BOWLINE_E_API_ONEOF spec.trafficPolicy.loadBalancer.backendUtilization'],
  ['WorkloadGroup without template', net('WorkloadGroup', '  metadata: {labels: {app: a}}\n'), 'BOWLINE_E_API_REQUIRED spec'],
  ['WorkloadGroup probe port 0', net('WorkloadGroup', '  template: {}\n  probe: {tcpSocket: {port: 0}}\n'), 'BOWLINE_E_API_RANGE spec.probe.tcpSocket.port'],
  ['WorkloadGroup two probe kinds', net('WorkloadGroup', '  template: {}\n  probe: {tcpSocket: {port: 80}, exec: {command: [true]}}\n'), 'BOWLINE_E_API_ONEOF spec.probe.exec'],
  ['WorkloadGroup probe header name', net('WorkloadGroup', '  template: {}\n  probe: {httpGet: {port: 80, httpHeaders: [{name: "a:b"}]}}\n'), 'BOWLINE_E_API_KEY spec.probe.httpGet.httpHeaders[0].name'],
  ['Telemetry UPSERT without value', tel('  metrics:\n  - overrides:\n    - tagOverrides: {tenant: {operation: UPSERT}}\n'), 'BOWLINE_E_API_REQUIRED spec.metrics[0].overrides[0].tagOverrides.tenant'],
  ['Telemetry REMOVE with a value', tel('  metrics:\n  - overrides:\n    - tagOverrides: {tenant: {operation: REMOVE, value: x}}\n'), 'BOWLINE_E_API_ONEOF spec.metrics[0].overrides[0].tagOverrides.tenant.value'],
  ['Telemetry provider without name', tel('  tracing:\n  - providers: [{}]\n'), 'BOWLINE_E_API_REQUIRED spec.tracing[0].providers[0]'],
  ['Telemetry sampling over 100', tel('  tracing:\n  - randomSamplingPercentage: 101\n'), 'BOWLINE_E_API_RANGE spec.tracing[0].randomSamplingPercentage'],
  ['Telemetry empty customMetric', tel('  metrics:\n  - overrides:\n    - match: {customMetric: ""}\n'), 'BOWLINE_E_API_EMPTY spec.metrics[0].overrides[0].match.customMetric'],
  ['Telemetry selector and targetRef', tel('  selector: {matchLabels: {app: a}}\n  targetRef: {kind: Service, name: a}\n'), 'BOWLINE_E_API_ONEOF spec.targetRef'],
  ['ProxyConfig negative concurrency', doc('networking.istio.io/v1beta1', 'ProxyConfig', '  concurrency: -1\n'), 'BOWLINE_E_API_RANGE spec.concurrency'],
];

describe("Istio's current CRD validation", () => {
  it.each(valid)('accepts: %s', (_name, text) => {
    expect(errors(text)).toEqual([]);
  });
  it.each(invalid)('refuses: %s', (_name, text, want) => {
    expect(errors(text)).toContain(want);
  });
});

describe('kinds Bowline refuses on purpose, and List', () => {
  it('EnvoyFilter: says Bowline runs no Envoy and names the built-in features', () => {
    const v = parseAndValidate('apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: lua}\nspec:\n  configPatches: []\n', { file: 'ef.yaml' }).violations;
    expect(v).toHaveLength(1);
    expect(v[0]).toMatchObject({ severity: 'error', code: 'BOWLINE_E_API_ENVOY_KIND', path: 'kind', line: 2 });
    expect(v[0]!.message).toContain('Bowline runs no Envoy');
    for (const feature of ['VirtualService http[].headers', 'AuthorizationPolicy action CUSTOM', 'connectionPool', 'Telemetry']) expect(v[0]!.hint).toContain(feature);
  });

  it('an unknown kind still gets BOWLINE_E_API_UNKNOWN_KIND with a hint', () => {
    const v = parseAndValidate('apiVersion: networking.istio.io/v1\nkind: VirtualServce\nmetadata: {name: a}\nspec: {}\n').violations;
    expect(v.map((x) => [x.code, x.hint])).toEqual([['BOWLINE_E_API_UNKNOWN_KIND', 'did you mean VirtualService?']]);
  });

  it('a v1 List: every item is validated as its own resource, errors located inside items', () => {
    const text = `apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: a, namespace: shop, resourceVersion: "12", uid: x, creationTimestamp: "2026-01-01T00:00:00Z", generation: 2}
  spec: {host: a}
  status: {conditions: []}
- apiVersion: networking.istio.io/v1
  kind: ServiceEntry
  metadata: {name: b}
  spec:
    hosts: ["*"]
metadata: {resourceVersion: "12"}
`;
    const r = parseAndValidate(text, { file: 'list.yaml' });
    expect(r.documents.map((d) => [d.item, d.kind, d.line, !!d.resource])).toEqual([[0, 'DestinationRule', 4, true], [1, 'ServiceEntry', 9, false]]);
    expect(r.violations.filter((v) => v.severity === 'error').map((v) => `${v.line}:${v.column} ${v.code} ${v.path}`)).toEqual(['13:13 BOWLINE_E_API_HOST items[1].spec.hosts[0]']);
  });

  it('a List without items, and an empty List', () => {
    expect(errors('apiVersion: v1\nkind: List\n')).toEqual(['BOWLINE_E_API_LIST items']);
    expect(parseAndValidate('apiVersion: v1\nkind: List\nitems: []\n').violations).toEqual([]);
  });
});
