import { arr, bool, dur, en, int, map, obj, req, str } from './dsl.js';
import { matchLabelsSelector, targetRef } from './common.js';
import * as f from './formats.js';

const mtlsMode = obj('MutualTLS', { mode: en('UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT') });

/** spec of a PeerAuthentication. */
export const peerAuthenticationSpec = obj('PeerAuthenticationSpec', {
  selector: matchLabelsSelector,
  mtls: mtlsMode,
  portLevelMtls: map(mtlsMode, (k) => (/^\d+$/.test(k) && Number(k) >= 1 && Number(k) <= 65535 ? undefined : `portLevelMtls key "${k}" must be a port number 1-65535`), 'port numbers to mTLS modes'),
}, {
  check: (o, path, ctx) => {
    if (o.portLevelMtls && !o.selector) ctx.add({ code: 'BOWLINE_E_API_PORT_MTLS', path: [...path, 'portLevelMtls'], atKey: true, message: 'portLevelMtls needs a workload selector: it applies only to selected workloads' });
  },
});

const cidrs = () => arr(str(f.cidr));
const source = obj('Source', {
  principals: arr(str()), notPrincipals: arr(str()),
  requestPrincipals: arr(str()), notRequestPrincipals: arr(str()),
  namespaces: arr(str()), notNamespaces: arr(str()),
  ipBlocks: cidrs(), notIpBlocks: cidrs(),
  remoteIpBlocks: cidrs(), notRemoteIpBlocks: cidrs(),
  serviceAccounts: arr(str()), notServiceAccounts: arr(str()),
});
const ports = () => arr(str((v) => (/^\d+$/.test(v) && Number(v) <= 65535 ? undefined : { code: 'BOWLINE_E_API_PORT', message: `port "${v}" must be a number 0-65535` })));
const operation = obj('Operation', {
  hosts: arr(str()), notHosts: arr(str()),
  ports: ports(), notPorts: ports(),
  methods: arr(str()), notMethods: arr(str()),
  paths: arr(str()), notPaths: arr(str()),
});
const condition = obj('Condition', { key: req(str()), values: arr(str()), notValues: arr(str()) }, {
  check: (o, path, ctx) => {
    const has = (k: string) => Array.isArray(o[k]) && (o[k] as unknown[]).length > 0;
    if (!has('values') && !has('notValues')) ctx.add({ code: 'BOWLINE_E_API_CONDITION', path, message: 'a condition needs values or notValues' });
  },
});

/** spec of an AuthorizationPolicy. */
export const authorizationPolicySpec = obj('AuthorizationPolicySpec', {
  selector: matchLabelsSelector,
  targetRef,
  targetRefs: arr(targetRef),
  rules: arr(obj('Rule', { from: arr(obj('From', { source })), to: arr(obj('To', { operation })), when: arr(condition) })),
  action: en('ALLOW', 'DENY', 'AUDIT', 'CUSTOM'),
  provider: obj('ExtensionProvider', { name: str() }),
}, {
  oneOf: [['selector', 'targetRef', 'targetRefs']],
  check: (o, path, ctx) => {
    if (o.action === 'CUSTOM') {
      ctx.add({ code: 'BOWLINE_E_API_CUSTOM_ACTION', path: [...path, 'action'], message: 'action CUSTOM (delegation to an external authorizer) is not supported by Bowline', hint: 'use ALLOW, DENY or AUDIT rules, or enforce the external check in the application' });
    }
    if (o.provider !== undefined && o.action !== 'CUSTOM') {
      ctx.add({ code: 'BOWLINE_E_API_PROVIDER', path: [...path, 'provider'], atKey: true, message: 'provider is only allowed with action CUSTOM' });
    }
  },
});

const jwtRule = obj('JWTRule', {
  issuer: req(str()),
  audiences: arr(str()),
  jwksUri: str((v) => (/^https?:\/\//.test(v) ? undefined : { code: 'BOWLINE_E_API_URI', message: `jwksUri "${v}" must be an http:// or https:// URL` })),
  jwks: str(),
  fromHeaders: arr(obj('JWTHeader', { name: req(str()), prefix: str() })),
  fromParams: arr(str()),
  fromCookies: arr(str()),
  outputPayloadToHeader: str(),
  outputClaimToHeaders: arr(obj('ClaimToHeader', { header: req(str()), claim: req(str()) })),
  forwardOriginalToken: bool(),
  timeout: dur(),
}, { oneOf: [['jwksUri', 'jwks']] });

/** spec of a RequestAuthentication. */
export const requestAuthenticationSpec = obj('RequestAuthenticationSpec', {
  selector: matchLabelsSelector,
  targetRef,
  targetRefs: arr(targetRef),
  jwtRules: arr(jwtRule),
}, { oneOf: [['selector', 'targetRef', 'targetRefs']] });

/** spec of the legacy authentication.istio.io/v1alpha1 Policy and MeshPolicy. */
export const legacyPolicySpec = obj('PolicySpec', {
  targets: arr(obj('TargetSelector', { name: req(str()), ports: arr(obj('PortSelector', { number: int(1, 65535), name: str() })) })),
  peers: arr(obj('PeerAuthenticationMethod', {
    mtls: obj('MutualTls', { mode: en('STRICT', 'PERMISSIVE'), allowTls: bool() }),
    jwt: obj('Jwt', {}, { open: true }),
  })),
  peerIsOptional: bool(),
  origins: arr(obj('OriginAuthenticationMethod', { jwt: obj('Jwt', {}, { open: true }) })),
  originIsOptional: bool(),
  principalBinding: en('USE_PEER', 'USE_ORIGIN'),
});
