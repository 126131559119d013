import { any, arr, int, map, obj, req, str, type ObjectSchema, type Schema } from './dsl.js';
import { virtualServiceSpec } from './virtual-service.js';
import { destinationRuleSpec } from './destination-rule.js';
import { gatewaySpec } from './gateway.js';
import { serviceEntrySpec, sidecarSpec, workloadEntrySpec } from './service-entry.js';
import { authorizationPolicySpec, legacyPolicySpec, peerAuthenticationSpec, requestAuthenticationSpec } from './security.js';
import { labels } from './common.js';
import { workloadGroupSpec } from './workload-group.js';
import { proxyConfigSpec, telemetrySpec } from './telemetry.js';
import * as f from './formats.js';
import type { Kind } from '../types/meta.js';

/** The spec schema of each kind. */
export const specSchemas: Record<Kind, ObjectSchema> = {
  VirtualService: virtualServiceSpec,
  DestinationRule: destinationRuleSpec,
  Gateway: gatewaySpec,
  ServiceEntry: serviceEntrySpec,
  WorkloadEntry: workloadEntrySpec as ObjectSchema,
  Sidecar: sidecarSpec,
  WorkloadGroup: workloadGroupSpec,
  ProxyConfig: proxyConfigSpec,
  Telemetry: telemetrySpec,
  PeerAuthentication: peerAuthenticationSpec,
  AuthorizationPolicy: authorizationPolicySpec,
  RequestAuthentication: requestAuthenticationSpec,
  MeshPolicy: legacyPolicySpec,
  Policy: legacyPolicySpec,
};

const objectName = (v: string) =>
  v.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(v)
    ? undefined
    : { code: 'BOWLINE_E_API_NAME', message: `name "${v}" is invalid: expected lower-case letters, digits, "-" and "." (a DNS subdomain, at most 253 characters)` };

/** Kubernetes object metadata. */
export const metadata = obj('ObjectMeta', {
  name: req(str(objectName)),
  namespace: str(f.dnsLabel),
  labels,
  annotations: map(str()),
  resourceVersion: str(),
  generation: int(0),
  uid: str(),
  creationTimestamp: str(),
  deletionTimestamp: str(),
  deletionGracePeriodSeconds: int(0),
  generateName: str(),
  selfLink: str(),
  finalizers: arr(str()),
  ownerReferences: any(),
  managedFields: any(),
});

const cache = new Map<Kind, ObjectSchema>();
/** The whole-document schema of a kind: apiVersion, kind, metadata, spec (required), status (ignored). */
export function resourceSchema(kind: Kind): ObjectSchema {
  let s = cache.get(kind);
  if (!s) {
    s = obj(kind, { apiVersion: req(str()), kind: req(str()), metadata: req(metadata), spec: req(specSchemas[kind]), status: any() });
    cache.set(kind, s);
  }
  return s;
}

/** Where a field name lives inside a kind's spec (shallowest first), e.g. route -> spec.http[].route in HTTPRoute. */
export function fieldHome(kind: Kind, field: string): { path: string; owner: string } | undefined {
  const queue: Array<{ s: Schema; path: string }> = [{ s: specSchemas[kind], path: 'spec' }];
  const seen = new Set<Schema>();
  while (queue.length) {
    const { s, path } = queue.shift()!;
    if (seen.has(s)) continue;
    seen.add(s);
    if (s.t === 'array') queue.push({ s: s.of, path: `${path}[]` });
    else if (s.t === 'map') queue.push({ s: s.of, path: `${path}.*` });
    else if (s.t === 'object') {
      if (Object.prototype.hasOwnProperty.call(s.fields, field)) return { path: `${path}.${field}`, owner: s.name };
      for (const [k, c] of Object.entries(s.fields)) queue.push({ s: c, path: `${path}.${k}` });
    }
  }
  return undefined;
}
