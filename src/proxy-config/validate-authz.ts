/**
 * Validation of the authorization resource: every field of a policy, rule and condition is known
 * and well formed (attribute names, keys, CIDR blocks, port numbers), so a proxy never runs a
 * policy it would read differently from what the control plane meant. Unknown fields are errors.
 */
import { isIP } from 'node:net';
import type { AuthzAttribute } from './types.js';
import type { Checker } from './validate-kit.js';

/** Every attribute a condition may test, and how its values are written. */
export const AUTHZ_ATTRIBUTES: Readonly<Record<AuthzAttribute, 'pattern' | 'cidr' | 'port' | 'exact'>> = {
  'source.principal': 'pattern', 'source.namespace': 'pattern', 'source.serviceAccount': 'exact', 'source.trustDomain': 'pattern',
  'source.ip': 'cidr', 'remote.ip': 'cidr', 'destination.ip': 'cidr', 'destination.port': 'port', 'connection.sni': 'pattern',
  'request.host': 'pattern', 'request.method': 'pattern', 'request.path': 'pattern', 'request.header': 'pattern',
  'request.auth.principal': 'pattern', 'request.auth.audiences': 'pattern', 'request.auth.presenter': 'pattern', 'request.auth.claims': 'pattern',
};

/** True when `block` is an address or `address/prefix` with a prefix length that fits its family. */
export function isCidr(block: string): boolean {
  const [addr, bits, extra] = block.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

function only(c: Checker, o: Record<string, unknown>, path: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) c.error(`${path}.${k}`, `unknown field (allowed: ${allowed.join(', ')})`);
}

function condition(c: Checker, v: unknown, path: string): void {
  const o = c.obj(v, path);
  if (!o) return;
  only(c, o, path, ['attribute', 'key', 'values', 'notValues']);
  const attr = o.attribute;
  c.oneOf(attr, `${path}.attribute`, Object.keys(AUTHZ_ATTRIBUTES));
  const kind = typeof attr === 'string' ? AUTHZ_ATTRIBUTES[attr as AuthzAttribute] : undefined;
  const keyed = attr === 'request.header' || attr === 'request.auth.claims';
  if (keyed) {
    const key = c.strings(o.key, `${path}.key`, true);
    if (key.length === 0 || key.some((k) => k === '')) c.error(`${path}.key`, 'must name a header or a claim path');
    if (attr === 'request.header' && (key.length !== 1 || key[0] !== key[0]?.toLowerCase())) c.error(`${path}.key`, 'must be one lowercase header name');
  } else if (o.key !== undefined) c.error(`${path}.key`, `is only allowed with request.header and request.auth.claims`);
  let count = 0;
  for (const f of ['values', 'notValues'] as const) {
    if (o[f] === undefined) continue;
    const list = c.strings(o[f], `${path}.${f}`);
    count += list.length;
    list.forEach((s, i) => {
      if (kind === 'cidr' && !isCidr(s)) c.error(`${path}.${f}[${i}]`, `"${s}" is not an IP address or CIDR block`);
      if (kind === 'port' && !(/^\d{1,5}$/.test(s) && Number(s) <= 65535)) c.error(`${path}.${f}[${i}]`, `"${s}" is not a port number`);
      if (s === '') c.error(`${path}.${f}[${i}]`, 'must not be empty');
    });
  }
  if (count === 0) c.error(path, 'needs values or notValues');
}

function alternatives(c: Checker, v: unknown, path: string): void {
  c.arr(v, path, false).forEach((alt, i) => c.arr(alt, `${path}[${i}]`).forEach((cond, j) => condition(c, cond, `${path}[${i}][${j}]`)));
}

function rules(c: Checker, v: unknown, path: string): void {
  c.arr(v, path).forEach((r, j) => {
    const rp = `${path}[${j}]`;
    const rule = c.obj(r, rp);
    if (!rule) return;
    only(c, rule, rp, ['from', 'to', 'when']);
    alternatives(c, rule.from, `${rp}.from`);
    alternatives(c, rule.to, `${rp}.to`);
    c.arr(rule.when, `${rp}.when`, false).forEach((cond, k) => condition(c, cond, `${rp}.when[${k}]`));
  });
}

/** A header name pattern: lowercase name, `prefix*` or `*suffix`. */
export const HEADER_PATTERN = /^(\*?[a-z0-9!#$%&'+.^_`|~-]+|[a-z0-9!#$%&'+.^_`|~-]+\*)$/;

function patterns(c: Checker, v: unknown, path: string): void {
  c.strings(v, path).forEach((s, i) => { if (!HEADER_PATTERN.test(s)) c.error(`${path}[${i}]`, `"${s}" is not a lowercase header name, prefix* or *suffix`); });
}

/** Checks `authorization.custom` (CUSTOM policies and their external authorizers). */
export function customAuthorization(c: Checker, v: unknown, path: string): void {
  c.arr(v, path, false).forEach((pv, i) => {
    const p = `${path}[${i}]`;
    const pol = c.obj(pv, p);
    if (!pol) return;
    only(c, pol, p, ['name', 'rules', 'provider']);
    c.str(pol.name, `${p}.name`);
    rules(c, pol.rules, `${p}.rules`);
    const pp = `${p}.provider`;
    const pr = c.obj(pol.provider, pp);
    if (!pr) return;
    if (pr.protocol !== undefined) c.oneOf(pr.protocol, `${pp}.protocol`, ['grpc']);
    only(c, pr, pp, pr.protocol === 'grpc'
      ? ['name', 'protocol', 'cluster', 'authority', 'timeoutMs', 'failOpen', 'statusOnError']
      : ['name', 'protocol', 'cluster', 'authority', 'timeoutMs', 'pathPrefix', 'includeRequestHeaders', 'includeAdditionalHeaders', 'headersToUpstreamOnAllow', 'headersToDownstreamOnDeny', 'failOpen', 'statusOnError']);
    c.str(pr.name, `${pp}.name`);
    c.str(pr.cluster, `${pp}.cluster`);
    c.str(pr.authority, `${pp}.authority`);
    c.num(pr.timeoutMs, `${pp}.timeoutMs`, { required: true, min: 1, int: true });
    if (pr.pathPrefix !== undefined && c.str(pr.pathPrefix, `${pp}.pathPrefix`, { required: false, empty: true }) && pr.pathPrefix !== '' && !pr.pathPrefix.startsWith('/')) c.error(`${pp}.pathPrefix`, 'must start with /');
    for (const f of ['includeRequestHeaders', 'headersToUpstreamOnAllow', 'headersToDownstreamOnDeny'] as const) if (pr[f] !== undefined) patterns(c, pr[f], `${pp}.${f}`);
    const add = c.obj(pr.includeAdditionalHeaders, `${pp}.includeAdditionalHeaders`, false);
    for (const [k, val] of Object.entries(add ?? {})) {
      if (!HEADER_PATTERN.test(k) || k.includes('*')) c.error(`${pp}.includeAdditionalHeaders.${k}`, 'must be a lowercase header name');
      c.str(val, `${pp}.includeAdditionalHeaders.${k}`, { empty: true });
    }
    c.bool(pr.failOpen, `${pp}.failOpen`);
    c.num(pr.statusOnError, `${pp}.statusOnError`, { required: false, min: 200, max: 599, int: true });
  });
}

/** Checks `authorization` (policies and their conditions; jwtRules stay with RequestAuthentication). */
export function authorizationPolicies(c: Checker, policies: unknown, path: string): void {
  c.arr(policies, path).forEach((pv, i) => {
    const p = `${path}[${i}]`;
    const pol = c.obj(pv, p);
    if (!pol) return;
    only(c, pol, p, ['name', 'action', 'rules']);
    c.str(pol.name, `${p}.name`);
    c.oneOf(pol.action, `${p}.action`, ['ALLOW', 'DENY', 'AUDIT']);
    rules(c, pol.rules, `${p}.rules`);
  });
}
