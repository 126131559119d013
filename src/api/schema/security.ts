import { arr, bool, dur, en, int, map, obj, req, str } from './dsl.js';
import { matchLabelsSelector, targetRef } from './common.js';
import * as f from './formats.js';
import type { FormatError } from './formats.js';
import { isObj } from './walk.js';

const mtlsMode = obj('MutualTLS', { mode: en('UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT') });

/** spec of a PeerAuthentication. */
export const peerAuthenticationSpec = obj('PeerAuthenticationSpec', {
  selector: matchLabelsSelector,
  mtls: mtlsMode,
  portLevelMtls: map(mtlsMode, (k) => (/^\d+$/.test(k) && Number(k) >= 1 && Number(k) <= 65535 ? undefined : `portLevelMtls key "${k}" must be a port number 1-65535`), 'port numbers to mTLS modes'),
}, {
  check: (o, path, ctx) => {
    if (isObj(o.portLevelMtls) && Object.keys(o.portLevelMtls).length === 0) ctx.add({ code: 'BOWLINE_E_API_EMPTY', path: [...path, 'portLevelMtls'], atKey: true, message: 'portLevelMtls is empty: name at least one port, or remove it' });
    if (o.portLevelMtls && !o.selector) ctx.add({ code: 'BOWLINE_E_API_PORT_MTLS', path: [...path, 'portLevelMtls'], atKey: true, message: 'portLevelMtls needs a workload selector: it applies only to selected workloads' });
  },
});

const cidrs = () => arr(str(f.cidr));
const nonEmpty = () => arr(str((v) => (v === '' ? { code: 'BOWLINE_E_API_EMPTY', message: 'an empty string matches nothing: remove it' } : undefined)));
const serviceAccount = (v: string): FormatError => {
  if (v === '') return { code: 'BOWLINE_E_API_EMPTY', message: 'an empty service account matches nothing: remove it' };
  if (v.includes('*')) return { code: 'BOWLINE_E_API_SERVICE_ACCOUNT', message: `service account "${v}" may not hold a wildcard` };
  const parts = v.split('/');
  if (parts.length > 2 || parts.some((x) => x === '')) return { code: 'BOWLINE_E_API_SERVICE_ACCOUNT', message: `service account "${v}" must be NAME or NAMESPACE/NAME` };
  if (v.length > 320) return { code: 'BOWLINE_E_API_SERVICE_ACCOUNT', message: 'a service account is at most 320 characters' };
  return undefined;
};
const trustDomain = (v: string): FormatError => {
  if (v === '') return { code: 'BOWLINE_E_API_EMPTY', message: 'an empty trust domain matches nothing: remove it' };
  if ((v.match(/\*/g) ?? []).length > 1) return { code: 'BOWLINE_E_API_WILDCARD', message: `trust domain "${v}" may hold at most one "*"` };
  if (v.includes('/')) return { code: 'BOWLINE_E_API_TRUST_DOMAIN', message: `trust domain "${v}" may not contain "/"` };
  return undefined;
};
const serviceAccounts = () => arr(str(serviceAccount));
const source = obj('Source', {
  principals: nonEmpty(), notPrincipals: nonEmpty(),
  requestPrincipals: nonEmpty(), notRequestPrincipals: nonEmpty(),
  namespaces: nonEmpty(), notNamespaces: nonEmpty(),
  ipBlocks: cidrs(), notIpBlocks: cidrs(),
  remoteIpBlocks: cidrs(), notRemoteIpBlocks: cidrs(),
  serviceAccounts: serviceAccounts(), notServiceAccounts: serviceAccounts(),
  trustDomains: arr(str(trustDomain)), notTrustDomains: arr(str(trustDomain)),
}, {
  check: (o, path, ctx) => {
    const has = (k: string) => Array.isArray(o[k]) && (o[k] as unknown[]).length > 0;
    const sa = ['serviceAccounts', 'notServiceAccounts'].find(has);
    const other = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'].find(has);
    if (sa && other) ctx.add({ code: 'BOWLINE_E_API_SERVICE_ACCOUNTS', path: [...path, sa], atKey: true, message: `${sa} cannot be combined with ${other} in one source: a service account already names its namespace and identity`, hint: 'use serviceAccounts alone (NAMESPACE/NAME), or principals/namespaces in a separate from: entry' });
    for (const k of ['serviceAccounts', 'notServiceAccounts']) {
      if (Array.isArray(o[k]) && (o[k] as unknown[]).length > 16) ctx.add({ code: 'BOWLINE_E_API_RANGE', path: [...path, k], atKey: true, message: `${k} has ${(o[k] as unknown[]).length} entries: at most 16` });
    }
    if (!Object.keys(o).some(has)) ctx.add({ code: 'BOWLINE_E_API_EMPTY', path, message: 'a source with no field matches every caller: name at least one of principals, namespaces, serviceAccounts, ipBlocks ...', hint: 'remove the from: entry to match every caller' });
  },
});
const ports = () => arr(str((v) => (/^\d+$/.test(v) && Number(v) <= 65535 ? undefined : { code: 'BOWLINE_E_API_PORT', message: `port "${v}" must be a number 0-65535` })));
const operation = obj('Operation', {
  hosts: nonEmpty(), notHosts: nonEmpty(),
  ports: ports(), notPorts: ports(),
  methods: nonEmpty(), notMethods: nonEmpty(),
  paths: nonEmpty(), notPaths: nonEmpty(),
}, {
  check: (o, path, ctx) => {
    if (!Object.values(o).some((v) => Array.isArray(v) && v.length > 0)) ctx.add({ code: 'BOWLINE_E_API_EMPTY', path, message: 'an operation with no field matches every request: name at least one of hosts, ports, methods, paths', hint: 'remove the to: entry to match every request' });
  },
});
const condition = obj('Condition', { key: req(str(conditionKey)), values: arr(str()), notValues: arr(str()) }, {
  check: (o, path, ctx) => {
    const has = (k: string) => Array.isArray(o[k]) && (o[k] as unknown[]).length > 0;
    if (!has('values') && !has('notValues')) ctx.add({ code: 'BOWLINE_E_API_CONDITION', path, message: 'a condition needs values or notValues' });
    if (typeof o.key !== 'string') return;
    for (const k of ['values', 'notValues']) {
      const vals = Array.isArray(o[k]) ? (o[k] as unknown[]) : [];
      vals.forEach((v, i) => {
        if (typeof v !== 'string') return;
        const bad = conditionValue(o.key as string, v);
        if (bad) ctx.add({ code: 'BOWLINE_E_API_CONDITION', path: [...path, k, i], message: `${v === '' ? 'an empty value' : `"${v}"`} is not a valid value for ${String(o.key)}: ${bad}` });
      });
    }
  },
});

/** Istio's `when` keys: exact names, and prefixes followed by `[NAME]`. */
const exactKeys = ['source.ip', 'remote.ip', 'source.namespace', 'source.serviceAccount', 'source.principal', 'source.trustDomain', 'request.auth.principal', 'request.auth.audiences', 'request.auth.presenter', 'destination.ip', 'destination.port', 'connection.sni'];
const mapKeys = ['request.headers', 'request.auth.claims', 'experimental.envoy.filters.'];
function conditionKey(k: string): FormatError {
  if (exactKeys.includes(k)) return undefined;
  const prefix = mapKeys.find((p) => k.startsWith(p));
  if (prefix) {
    const open = k.indexOf('[');
    return k.endsWith(']') && open > 0 && open < k.length - 2 ? undefined : { code: 'BOWLINE_E_API_CONDITION', message: `key "${k}" must name its entry in brackets, e.g. ${prefix.replace(/\.$/, '')}[NAME]` };
  }
  if (k === 'destination.namespace') return { code: 'BOWLINE_E_API_CONDITION', message: 'destination.namespace is no longer a condition: the policy applies in its own metadata.namespace' };
  if (k.startsWith('destination.labels')) return { code: 'BOWLINE_E_API_CONDITION', message: 'destination.labels is no longer a condition: use the policy\'s selector' };
  if (k === 'destination.name' || k === 'destination.user') return { code: 'BOWLINE_E_API_CONDITION', message: `${k} was only supported in the old v1alpha1 RBAC API` };
  return { code: 'BOWLINE_E_API_CONDITION', message: `unknown condition key "${k}": expected one of ${exactKeys.join(', ')}, request.headers[NAME], request.auth.claims[NAME]` };
}
function conditionValue(key: string, v: string): string | undefined {
  if (v === '') return 'empty values are not allowed';
  if (['source.ip', 'remote.ip', 'destination.ip'].includes(key)) return f.cidr(v)?.message;
  if (key === 'destination.port') return /^\d+$/.test(v) && Number(v) <= 65535 ? undefined : 'expected a port number 0-65535';
  if (key === 'source.serviceAccount') return serviceAccount(v)?.message;
  if (key === 'source.trustDomain' || key === 'source.principal') return (v.match(/\*/g) ?? []).length > 1 ? 'at most one "*" is allowed' : undefined;
  return undefined;
}

/** Source fields and condition keys an external authorizer (CUSTOM) cannot be asked about, as in Istio. */
const customUnsupportedSource = ['namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts', 'trustDomains', 'notTrustDomains', 'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals'];
const customUnsupportedKeys = (k: string) => ['source.namespace', 'source.serviceAccount', 'source.trustDomain', 'source.principal'].includes(k) || k.startsWith('request.auth.');

const rule = obj('Rule', { from: arr(obj('From', { source: req(source) })), to: arr(obj('To', { operation: req(operation) })), when: arr(condition) }, {
  check: (o, path, ctx) => {
    for (const k of ['from', 'to']) if (Array.isArray(o[k]) && (o[k] as unknown[]).length === 0) ctx.add({ code: 'BOWLINE_E_API_EMPTY', path: [...path, k], atKey: true, message: `an empty ${k}: list is not allowed`, hint: `remove ${k}: to match every ${k === 'from' ? 'caller' : 'request'}` });
  },
});

/** spec of an AuthorizationPolicy. */
export const authorizationPolicySpec = obj('AuthorizationPolicySpec', {
  selector: matchLabelsSelector,
  targetRef,
  targetRefs: arr(targetRef),
  rules: arr(rule),
  action: en('ALLOW', 'DENY', 'AUDIT', 'CUSTOM'),
  provider: obj('ExtensionProvider', { name: str() }),
}, {
  oneOf: [['selector', 'targetRef', 'targetRefs']],
  check: (o, path, ctx) => {
    const rules = Array.isArray(o.rules) ? (o.rules as unknown[]) : undefined;
    if (o.action === 'CUSTOM') {
      if (rules === undefined) ctx.add({ code: 'BOWLINE_E_API_CUSTOM_ACTION', path: [...path, 'action'], message: 'action CUSTOM without rules never asks the external authorizer', hint: 'add an empty rule (rules: [{}]) to send every request to it' });
      else if (!isObj(o.provider) || typeof o.provider.name !== 'string' || o.provider.name === '') ctx.add({ code: 'BOWLINE_E_API_CUSTOM_ACTION', path: [...path, 'action'], message: 'action CUSTOM needs provider.name: the mesh config extensionProviders entry to ask' });
      (rules ?? []).forEach((r, i) => {
        if (!isObj(r)) return;
        (Array.isArray(r.from) ? r.from : []).forEach((fr: unknown, j: number) => {
          const src = isObj(fr) && isObj(fr.source) ? fr.source : {};
          for (const k of customUnsupportedSource) if (src[k] !== undefined) ctx.add({ code: 'BOWLINE_E_API_CUSTOM_ACTION', path: [...path, 'rules', i, 'from', j, 'source', k], atKey: true, message: `${k} cannot be used with action CUSTOM (as in Istio): the external authorizer decides on the request` });
        });
        (Array.isArray(r.when) ? r.when : []).forEach((w: unknown, j: number) => {
          if (isObj(w) && typeof w.key === 'string' && customUnsupportedKeys(w.key)) ctx.add({ code: 'BOWLINE_E_API_CUSTOM_ACTION', path: [...path, 'rules', i, 'when', j, 'key'], message: `condition ${w.key} cannot be used with action CUSTOM (as in Istio)` });
        });
      });
    }
    if (o.provider !== undefined && o.action !== 'CUSTOM') {
      ctx.add({ code: 'BOWLINE_E_API_PROVIDER', path: [...path, 'provider'], atKey: true, message: 'provider is only allowed with action CUSTOM' });
    }
    if (o.action === 'DENY' && rules === undefined) ctx.add({ code: 'BOWLINE_E_API_DENY_NO_RULES', path: [...path, 'action'], message: 'action DENY without rules never denies anything', hint: 'add an empty rule (rules: [{}]) to deny every request' });
  },
});

const jwtRule = obj('JWTRule', {
  issuer: req(str()),
  audiences: nonEmpty(),
  jwksUri: str((v) => (/^https?:\/\//.test(v) ? undefined : { code: 'BOWLINE_E_API_URI', message: `jwksUri "${v}" must be an http:// or https:// URL` })),
  jwks: str(),
  fromHeaders: arr(obj('JWTHeader', { name: req(str()), prefix: str() })),
  fromParams: nonEmpty(),
  fromCookies: nonEmpty(),
  outputPayloadToHeader: str(),
  outputClaimToHeaders: arr(obj('ClaimToHeader', { header: req(str((v) => (/^[-_A-Za-z0-9]+$/.test(v) ? undefined : { code: 'BOWLINE_E_API_KEY', message: `header name "${v}" may hold only letters, digits, "-" and "_"` }))), claim: req(str()) })),
  forwardOriginalToken: bool(),
  timeout: dur(1),
  spaceDelimitedClaims: nonEmpty(),
  presence: en('OPTIONAL', 'REQUIRED'),
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
