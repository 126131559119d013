// What each of istio/istio's CRD validation test files (pkg/config/validation/testdata/crds/
// KIND-valid.yaml and KIND-invalid.yaml) teaches, for every kind Bowline serves, written as our own
// cases: each valid lesson is accepted with no error, each invalid one is refused with the named
// code at the named path. (EnvoyFilter and WasmPlugin are refused on purpose: istio-crds.test.ts.)
import { describe, expect, it } from 'vitest';
import { parseAndValidate } from './parse.js';

const res = (apiVersion: string, kind: string, body: string) => `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: lesson, namespace: shop}\n${body}`;
const spec = (apiVersion: string, kind: string) => (s: string) => res(apiVersion, kind, `spec:\n${s}`);
const ap = spec('security.istio.io/v1', 'AuthorizationPolicy');
const dr = spec('networking.istio.io/v1', 'DestinationRule');
const pa = spec('security.istio.io/v1', 'PeerAuthentication');
const pc = spec('networking.istio.io/v1beta1', 'ProxyConfig');
const ra = spec('security.istio.io/v1', 'RequestAuthentication');
const se = spec('networking.istio.io/v1', 'ServiceEntry');
const tm = spec('telemetry.istio.io/v1alpha1', 'Telemetry');
const we = spec('networking.istio.io/v1alpha3', 'WorkloadEntry');
const wg = spec('networking.istio.io/v1alpha3', 'WorkloadGroup');
const when = (key: string, values: string, notValues: string) => `    - key: "${key}"\n      values: ${values}\n      notValues: ${notValues}\n`;

/** Istio file -> lessons: [name, document] accepted, [name, document, "CODE path"] refused. */
const lessons: Record<string, { valid: Array<[string, string]>; invalid: Array<[string, string, string]> }> = {
  authz: {
    valid: [
      ['every Source and Operation field, each with exact, prefix-*, *-suffix and * values', ap(`  selector: {matchLabels: {app: orders}}
  rules:
  - from:
    - source:
        principals: [corp.example/ns/shop/sa/cart, "corp.example/ns/shop/*", "*/sa/cart", "*"]
        requestPrincipals: ["https://id.example/alice", "https://id.example/*", "*/alice", "*"]
        namespaces: [shop, "shop-*", "*-prod", "*"]
        ipBlocks: [192.0.2.7, 198.51.100.0/24]
        remoteIpBlocks: [192.0.2.8, 203.0.113.0/24]
        notPrincipals: [corp.example/ns/shop/sa/bot, "bot-*", "*-bot", "*"]
        notRequestPrincipals: ["https://id.example/mallory", "https://evil.example/*", "*/mallory", "*"]
        notNamespaces: [legacy, "legacy-*", "*-test", "*"]
        notIpBlocks: [192.0.2.99, 198.51.100.128/25]
        notRemoteIpBlocks: [192.0.2.98, 203.0.113.128/25]
        trustDomains: [corp.example, "corp-*", "*.corp.example", "*"]
        notTrustDomains: [evil.example, "evil-*", "*.evil.example", "*"]
    to:
    - operation:
        methods: [GET, "PO*", "*CH", "*"]
        hosts: [orders.example, "*.orders.example", "orders.*", "*"]
        ports: ["8080", "9090"]
        paths: [/orders, "/orders/*", "*/items", "*", "/orders/{*}/items", "/{**}/receipt"]
        notMethods: [TRACE, "TR*", "*CE", "*"]
        notHosts: [admin.example, "*.admin.example", "admin.*", "*"]
        notPorts: ["9000", "9001"]
        notPaths: [/debug, "/debug/*", "*/pprof", "*", "/debug/{*}/vars", "/{**}/secrets"]
    when:
${[
    when('request.headers[X-Tenant]', '[blue, "blue-*", "*-blue", "*"]', '[red, "red-*", "*-red", "*"]'),
    when('source.ip', '[192.0.2.1, 198.51.100.0/24]', '[192.0.2.2, 203.0.113.0/24]'),
    when('remote.ip', '[192.0.2.3, 198.51.100.0/25]', '[192.0.2.4, 203.0.113.0/25]'),
    when('source.namespace', '[shop, "shop-*", "*-prod", "*"]', '[legacy, "legacy-*", "*-test", "*"]'),
    when('source.principal', '[corp.example/ns/shop/sa/cart, "corp.example/*", "*/cart", "*"]', '[x, "x-*", "*-x", "*"]'),
    when('request.auth.principal', '["https://id.example/alice", "https://id.example/*", "*/alice", "*"]', '[m, "m-*", "*-m", "*"]'),
    when('request.auth.audiences', '[orders, "orders-*", "*-api", "*"]', '[a, "a-*", "*-a", "*"]'),
    when('request.auth.presenter', '[web, "web-*", "*-app", "*"]', '[p, "p-*", "*-p", "*"]'),
    when('request.auth.claims[iss]', '["https://id.example", "https://*", "*.example", "*"]', '[i, "i-*", "*-i", "*"]'),
    when('request.auth.claims[org][team]', '[payments, "pay-*", "*-ops", "*"]', '[t, "t-*", "*-t", "*"]'),
    when('destination.ip', '[192.0.2.5, 198.51.100.0/26]', '[192.0.2.6, 203.0.113.0/26]'),
    when('destination.port', '["8080", "8443"]', '["9000", "9443"]'),
    when('connection.sni', '[orders.example, "*.orders.example", "orders.*", "*"]', '[s.example, "*.s.example", "s.*", "*"]'),
    when('source.trustDomain', '[corp.example, "corp-*", "*.corp.example", "*"]', '[evil.example, "evil-*", "*.evil", "*"]'),
    when('experimental.envoy.filters.network.mysql_proxy[db.table]', '[orders, "orders-*", "*-archive", "*"]', '[o, "o-*", "*-o", "*"]'),
  ].join('')}`)],
      ['serviceAccounts in one source, principals and namespaces in other sources of the same rule', ap('  rules:\n  - from:\n    - source: {serviceAccounts: [shop/cart, web]}\n    - source: {principals: [corp.example/ns/ops/sa/admin]}\n    - source: {namespaces: [ops]}\n')],
    ],
    invalid: [
      ['serviceAccounts with namespaces in one source', ap('  rules:\n  - from:\n    - source: {serviceAccounts: [cart], namespaces: [shop]}\n'), 'BOWLINE_E_API_SERVICE_ACCOUNTS spec.rules[0].from[0].source.serviceAccounts'],
      ['serviceAccounts with principals in one source', ap('  rules:\n  - from:\n    - source: {serviceAccounts: [cart], principals: [corp.example/ns/shop/sa/cart]}\n'), 'BOWLINE_E_API_SERVICE_ACCOUNTS spec.rules[0].from[0].source.serviceAccounts'],
    ],
  },
  destinationrule: {
    valid: [
      ['warmup with only a duration', dr('  host: orders\n  trafficPolicy:\n    loadBalancer:\n      warmup: {duration: 120s}\n')],
      ['warmup with minimumPercent', dr('  host: orders\n  trafficPolicy:\n    loadBalancer:\n      warmup: {duration: 2m, minimumPercent: 12.5}\n')],
      ['warmup with aggression', dr('  host: orders\n  trafficPolicy:\n    loadBalancer:\n      warmup: {duration: 90s, minimumPercent: 20, aggression: 2.5}\n')],
      ['HTTP/2 keepalive pings', dr('  host: orders\n  trafficPolicy:\n    connectionPool:\n      http:\n        http2KeepAlive: {interval: 20s, timeout: 3s}\n')],
    ],
    invalid: [
      ['warmup minimumPercent over 100', dr('  host: orders\n  trafficPolicy:\n    loadBalancer:\n      warmup: {duration: 60s, minimumPercent: 101}\n'), 'BOWLINE_E_API_RANGE spec.trafficPolicy.loadBalancer.warmup.minimumPercent'],
      ['warmup without a duration', dr('  host: orders\n  trafficPolicy:\n    loadBalancer:\n      warmup: {minimumPercent: 10}\n'), 'BOWLINE_E_API_REQUIRED spec.trafficPolicy.loadBalancer.warmup'],
      ['warmup aggression under 1', dr('  host: orders\n  trafficPolicy:\n    loadBalancer:\n      warmup: {duration: 60s, aggression: 0.5}\n'), 'BOWLINE_E_API_RANGE spec.trafficPolicy.loadBalancer.warmup.aggression'],
    ],
  },
  peerauth: {
    valid: [
      ['a selector with a port-level mode', pa('  selector: {matchLabels: {app: orders}}\n  mtls: {mode: PERMISSIVE}\n  portLevelMtls:\n    "8443": {mode: STRICT}\n')],
      ['an empty selector', pa('  selector: {}\n')],
    ],
    invalid: [
      ['an unknown mode', pa('  mtls: {mode: ENFORCE}\n'), 'BOWLINE_E_API_ENUM spec.mtls.mode'],
      ['a port key that is no number', pa('  selector: {matchLabels: {app: orders}}\n  portLevelMtls:\n    https: {mode: STRICT}\n'), 'BOWLINE_E_API_KEY spec.portLevelMtls.https'],
      ['portLevelMtls without a selector', pa('  portLevelMtls:\n    "8443": {mode: STRICT}\n'), 'BOWLINE_E_API_PORT_MTLS spec.portLevelMtls'],
      ['an empty portLevelMtls', pa('  selector: {matchLabels: {app: orders}}\n  portLevelMtls: {}\n'), 'BOWLINE_E_API_EMPTY spec.portLevelMtls'],
      ['port 0', pa('  selector: {matchLabels: {app: orders}}\n  portLevelMtls:\n    "0": {mode: STRICT}\n'), 'BOWLINE_E_API_KEY spec.portLevelMtls["0"]'],
      ['a port over 65535', pa('  selector: {matchLabels: {app: orders}}\n  portLevelMtls:\n    "70000": {mode: STRICT}\n'), 'BOWLINE_E_API_KEY spec.portLevelMtls["70000"]'],
    ],
  },
  proxyconfig: {
    valid: [
      ['every field', pc('  selector: {matchLabels: {app: orders}}\n  concurrency: 4\n  image: {imageType: debug}\n  environmentVariables: {TZ: UTC}\n')],
      ['an empty matchLabels', pc('  selector:\n    matchLabels: {}\n')],
    ],
    invalid: [
      ['negative concurrency', pc('  concurrency: -2\n'), 'BOWLINE_E_API_RANGE spec.concurrency'],
      ['an empty label key', pc('  selector:\n    matchLabels: {"": orders}\n'), 'BOWLINE_E_API_KEY spec.selector.matchLabels[""]'],
    ],
  },
  reqauth: {
    valid: [
      ['targetRefs to a core Service and a jwt rule with every field', ra(`  targetRefs:
  - {group: "", kind: Service, name: orders}
  jwtRules:
  - issuer: id.example
    jwksUri: https://id.example/keys.json
    forwardOriginalToken: true
    fromCookies: [session]
    fromHeaders:
    - {name: x-jwt, prefix: "Token "}
    outputClaimToHeaders:
    - {claim: sub, header: x-user}
    timeout: 4s
    outputPayloadToHeader: x-jwt-payload
    spaceDelimitedClaims: [scope, roles.granted]
    presence: REQUIRED
`)],
    ],
    invalid: [
      ['targetRef and targetRefs', ra('  targetRef: {kind: Service, name: a}\n  targetRefs:\n  - {kind: Service, name: b}\n'), 'BOWLINE_E_API_ONEOF spec.targetRefs'],
      ['selector and targetRef', ra('  selector: {matchLabels: {app: a}}\n  targetRef: {kind: Service, name: a}\n'), 'BOWLINE_E_API_ONEOF spec.targetRef'],
      ['targetRef without a name', ra('  targetRef: {kind: Service}\n'), 'BOWLINE_E_API_REQUIRED spec.targetRef'],
      ['targetRef in another namespace', ra('  targetRef: {kind: Service, name: a, namespace: ops}\n'), 'BOWLINE_E_API_TARGET_REF spec.targetRef.namespace'],
      ['targetRef group that is no DNS name', ra('  targetRef: {group: "a_b", kind: Service, name: a}\n'), 'BOWLINE_E_API_TARGET_REF spec.targetRef.group'],
      ['targetRef kind that is no kind name', ra('  targetRef: {kind: "Ser.vice", name: a}\n'), 'BOWLINE_E_API_TARGET_REF spec.targetRef.kind'],
      ['a jwt rule that is null', ra('  jwtRules:\n  -\n'), 'BOWLINE_E_API_TYPE spec.jwtRules[0]'],
      ['an empty audience', ra('  jwtRules:\n  - {issuer: a, audiences: [""]}\n'), 'BOWLINE_E_API_EMPTY spec.jwtRules[0].audiences[0]'],
      ['jwksUri without a scheme', ra('  jwtRules:\n  - {issuer: a, jwksUri: "id.example/keys"}\n'), 'BOWLINE_E_API_URI spec.jwtRules[0].jwksUri'],
      ['fromHeaders without a name', ra('  jwtRules:\n  - issuer: a\n    fromHeaders: [{prefix: "Bearer "}]\n'), 'BOWLINE_E_API_REQUIRED spec.jwtRules[0].fromHeaders[0]'],
      ['fromHeaders with an empty name', ra('  jwtRules:\n  - issuer: a\n    fromHeaders: [{name: ""}]\n'), 'BOWLINE_E_API_REQUIRED spec.jwtRules[0].fromHeaders[0]'],
      ['an empty fromParams', ra('  jwtRules:\n  - {issuer: a, fromParams: [""]}\n'), 'BOWLINE_E_API_EMPTY spec.jwtRules[0].fromParams[0]'],
      ['an empty fromCookies', ra('  jwtRules:\n  - {issuer: a, fromCookies: [""]}\n'), 'BOWLINE_E_API_EMPTY spec.jwtRules[0].fromCookies[0]'],
      ['a claim-to-header that is null', ra('  jwtRules:\n  - issuer: a\n    outputClaimToHeaders:\n    -\n'), 'BOWLINE_E_API_TYPE spec.jwtRules[0].outputClaimToHeaders[0]'],
      ['a claim-to-header with an empty claim', ra('  jwtRules:\n  - issuer: a\n    outputClaimToHeaders: [{header: x-user, claim: ""}]\n'), 'BOWLINE_E_API_REQUIRED spec.jwtRules[0].outputClaimToHeaders[0]'],
      ['a claim-to-header with an empty header', ra('  jwtRules:\n  - issuer: a\n    outputClaimToHeaders: [{header: "", claim: sub}]\n'), 'BOWLINE_E_API_REQUIRED spec.jwtRules[0].outputClaimToHeaders[0]'],
      ['a claim-to-header with a pseudo-header', ra('  jwtRules:\n  - issuer: a\n    outputClaimToHeaders: [{header: ":path", claim: sub}]\n'), 'BOWLINE_E_API_KEY spec.jwtRules[0].outputClaimToHeaders[0].header'],
      ['a timeout that is no duration', ra('  jwtRules:\n  - {issuer: a, timeout: soon}\n'), 'BOWLINE_E_API_DURATION spec.jwtRules[0].timeout'],
      ['an empty space-delimited claim', ra('  jwtRules:\n  - {issuer: a, spaceDelimitedClaims: [scope, ""]}\n'), 'BOWLINE_E_API_EMPTY spec.jwtRules[0].spaceDelimitedClaims[1]'],
      ['an unknown presence', ra('  jwtRules:\n  - {issuer: a, presence: ALWAYS_ON}\n'), 'BOWLINE_E_API_ENUM spec.jwtRules[0].presence'],
    ],
  },
  serviceentry: {
    valid: [
      ['every field, with an IPv6 address ending in :: in a flow list', se(`  hosts: [orders.example]
  workloadSelector: {labels: {app: orders}}
  addresses: [192.0.2.10, 2001:db8::]
  exportTo: [ops, .]
  location: MESH_EXTERNAL
  ports:
  - {name: web, protocol: HTTP, number: 8080, targetPort: 9080}
  subjectAltNames: [spiffe://corp.example/ns/shop/sa/orders]
  resolution: DNS
`)],
      ['a DNS endpoint given by host name', se('  hosts: [orders.example]\n  endpoints:\n  - address: eu.orders.example\n  ports:\n  - {name: web, protocol: HTTP, number: 8080, targetPort: 9080}\n  resolution: DNS\n')],
      ['an empty workloadSelector', res('networking.istio.io/v1alpha3', 'ServiceEntry', 'spec:\n  workloadSelector: {}\n  hosts: [orders.example]\n')],
      ['a host with a wildcard that is not a whole label', se('  hosts: ["*orders"]\n')],
      ['a /32 address with the default resolution', se('  hosts: [orders.example]\n  addresses:\n  - 192.0.2.10/32\n')],
    ],
    invalid: [
      ['no spec', res('networking.istio.io/v1', 'ServiceEntry', ''), 'BOWLINE_E_API_REQUIRED '],
      ['no hosts', se('  ports: [{number: 80, name: web}]\n'), 'BOWLINE_E_API_REQUIRED spec'],
      ['a selector label value "*"', se('  hosts: [orders.example]\n  workloadSelector: {labels: {app: "*"}}\n'), 'BOWLINE_E_API_LABEL spec.workloadSelector.labels.app'],
      ['workloadSelector and endpoints', se('  hosts: [orders.example]\n  workloadSelector: {labels: {app: orders}}\n  endpoints: [{address: 192.0.2.10}]\n  resolution: STATIC\n'), 'BOWLINE_E_API_ONEOF spec.workloadSelector'],
      ['host "*"', se('  hosts: ["*"]\n'), 'BOWLINE_E_API_HOST spec.hosts[0]'],
      ['a CIDR with DNS resolution', se('  hosts: [orders.example]\n  addresses: [192.0.2.0/24]\n  resolution: DNS\n'), 'BOWLINE_E_API_CIDR spec.addresses[0]'],
      ['a port name used twice', se('  hosts: [orders.example]\n  ports:\n  - {name: web, number: 80}\n  - {name: web, number: 81}\n'), 'BOWLINE_E_API_DUPLICATE_PORT spec.ports[1].name'],
      ['a port number used twice', se('  hosts: [orders.example]\n  ports:\n  - {name: web, number: 80}\n  - {name: web2, number: 80}\n'), 'BOWLINE_E_API_DUPLICATE_PORT spec.ports[1].number'],
      ['a port over 65535', se('  hosts: [orders.example]\n  ports:\n  - {name: web, number: 65536}\n'), 'BOWLINE_E_API_RANGE spec.ports[0].number'],
      ['a targetPort over 65535', se('  hosts: [orders.example]\n  ports:\n  - {name: web, number: 80, targetPort: 70000}\n'), 'BOWLINE_E_API_RANGE spec.ports[0].targetPort'],
      ['NONE with endpoints', se('  hosts: [orders.example]\n  resolution: NONE\n  endpoints: [{address: 192.0.2.10}]\n'), 'BOWLINE_E_API_ENDPOINTS spec.endpoints'],
      ['DNS_ROUND_ROBIN with two endpoints', se('  hosts: [orders.example]\n  resolution: DNS_ROUND_ROBIN\n  endpoints: [{address: a.orders.example}, {address: b.orders.example}]\n'), 'BOWLINE_E_API_ENDPOINTS spec.endpoints'],
    ],
  },
  telemetry: {
    valid: [
      ['every metrics, accessLogging and tracing field', tm(`  metrics:
  - providers: [{name: prometheus}]
    reportingInterval: 10s
    overrides:
    - match: {customMetric: orders_total}
      disabled: false
      tagOverrides:
        request_method: {value: request.method}
        request_host: {value: request.host}
    - match: {metric: GRPC_RESPONSE_MESSAGES}
      disabled: true
  accessLogging:
  - disabled: false
    filter: {expression: "response.code >= 500"}
    match: {mode: SERVER}
    providers: [{name: stdout}]
  tracing:
  - providers: [{name: zipkin}]
    match: {mode: CLIENT_AND_SERVER}
    randomSamplingPercentage: 12.5
    useRequestIdForTraceSampling: true
    disableSpanReporting: false
    customTags:
      region: {environment: {name: REGION, defaultValue: unknown}}
      tenant: {header: {name: x-tenant, defaultValue: none}}
      team: {literal: {value: orders}}
`)],
      ['a tag UPSERT with a value', tm('  metrics:\n  - overrides:\n    - tagOverrides:\n        tenant: {operation: UPSERT, value: "request.headers[\'x-tenant\']"}\n')],
      ['a tag REMOVE', tm('  metrics:\n  - overrides:\n    - tagOverrides:\n        tenant: {operation: REMOVE}\n')],
    ],
    invalid: [
      ['a provider with an empty name', tm('  metrics:\n  - providers: [{name: ""}]\n'), 'BOWLINE_E_API_REQUIRED spec.metrics[0].providers[0]'],
      ['an empty customMetric', tm('  metrics:\n  - overrides:\n    - match: {customMetric: ""}\n'), 'BOWLINE_E_API_EMPTY spec.metrics[0].overrides[0].match.customMetric'],
      ['UPSERT without a value', tm('  metrics:\n  - overrides:\n    - tagOverrides:\n        tenant: {operation: UPSERT}\n'), 'BOWLINE_E_API_REQUIRED spec.metrics[0].overrides[0].tagOverrides.tenant'],
      ['REMOVE with a value', tm('  metrics:\n  - overrides:\n    - tagOverrides:\n        tenant: {operation: REMOVE, value: x}\n'), 'BOWLINE_E_API_ONEOF spec.metrics[0].overrides[0].tagOverrides.tenant.value'],
    ],
  },
  workloadentry: {
    valid: [
      ['every field', we('  address: 192.0.2.20\n  serviceAccount: orders\n  network: east\n  labels: {app: orders}\n  ports: {web: 8080}\n  weight: 3\n  locality: eu-west/zone-a/rack-1\n')],
      ['a network without an address', we('  network: east\n')],
      ['an abstract unix socket', we('  address: unix://@orders\n')],
      ['a unix socket path', we('  address: unix:///run/orders/app.sock\n')],
      ['a host name address', we('  address: orders.vm.example\n')],
    ],
    invalid: [
      ['no spec', res('networking.istio.io/v1alpha3', 'WorkloadEntry', ''), 'BOWLINE_E_API_REQUIRED '],
      ['neither address nor network', we('  labels: {app: orders}\n'), 'BOWLINE_E_API_ADDRESS spec'],
      ['a unix socket naming a directory', we('  address: unix:///run/orders/\n'), 'BOWLINE_E_API_ADDRESS spec.address'],
      ['a relative unix socket', we('  address: unix://orders.sock\n'), 'BOWLINE_E_API_ADDRESS spec.address'],
      ['a unix socket with ports', we('  address: unix:///run/orders.sock\n  ports: {web: 8080}\n'), 'BOWLINE_E_API_ADDRESS spec.ports'],
      ['a port over 65535', we('  address: 192.0.2.20\n  ports: {web: 65536}\n'), 'BOWLINE_E_API_RANGE spec.ports.web'],
      ['a port name that is no name', we('  address: 192.0.2.20\n  ports: {"w b": 80}\n'), 'BOWLINE_E_API_KEY spec.ports["w b"]'],
    ],
  },
  workloadgroup: {
    valid: [
      ['every field with an HTTPS httpGet probe on another host', wg(`  metadata:
    labels: {app: orders}
    annotations: {team: payments}
  probe:
    failureThreshold: 3
    initialDelaySeconds: 2
    periodSeconds: 4
    successThreshold: 2
    timeoutSeconds: 1
    httpGet:
      port: 8443
      host: localhost
      scheme: HTTPS
      path: /healthz
      httpHeaders: [{name: x-probe, value: "yes"}]
  template:
    serviceAccount: orders
    network: east
    labels: {app: orders}
    ports: {web: 8080}
    weight: 2
    locality: eu-west/zone-a/rack-1
`)],
      ['a tcpSocket probe', wg('  probe:\n    tcpSocket: {port: 5432}\n  template: {serviceAccount: db, network: east}\n')],
    ],
    invalid: [
      ['no spec', res('networking.istio.io/v1alpha3', 'WorkloadGroup', ''), 'BOWLINE_E_API_REQUIRED '],
      ['a tcpSocket port over 65535', wg('  template: {}\n  probe: {tcpSocket: {port: 65536}}\n'), 'BOWLINE_E_API_RANGE spec.probe.tcpSocket.port'],
      ['an httpGet header name that is no token', wg('  template: {}\n  probe:\n    httpGet: {port: 80, httpHeaders: [{name: "x y", value: a}]}\n'), 'BOWLINE_E_API_KEY spec.probe.httpGet.httpHeaders[0].name'],
    ],
  },
};

function errors(text: string): string[] {
  return parseAndValidate(text, { analyze: false }).violations.filter((v) => v.severity === 'error').map((v) => `${v.code} ${v.path}`);
}

describe("Istio's CRD validation test data, lesson by lesson (our own cases)", () => {
  for (const [file, { valid, invalid }] of Object.entries(lessons)) {
    describe(file, () => {
      it.each(valid)('accepts: %s', (_name, text) => {
        expect(errors(text)).toEqual([]);
      });
      it.each(invalid)('refuses: %s', (_name, text, want) => {
        expect(errors(text)).toContain(want);
      });
    });
  }

  it('has lessons from the valid and the invalid file of every kind Bowline serves that Istio tests', () => {
    for (const { valid, invalid } of Object.values(lessons)) {
      expect(valid.length).toBeGreaterThan(0);
      expect(invalid.length).toBeGreaterThan(0);
    }
  });
});
