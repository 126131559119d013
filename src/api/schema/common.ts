import { arr, int, map, num, obj, req, str, type Check, type Schema } from './dsl.js';
import * as f from './formats.js';

/** A StringMatch: exact | prefix | regex (RE2). */
export const stringMatch = obj('StringMatch', { exact: str(), prefix: str(), regex: str(f.regex) }, {
  oneOf: [['exact', 'prefix', 'regex']],
});

/** Labels (Kubernetes label syntax). */
export const labels: Schema = map(str(f.labelValue), f.labelKey, 'label keys to values');

/** A map of header names to StringMatch. */
export const headerMatches: Schema = map(stringMatch, (k) => (/^:?[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(k) ? undefined : `header name "${k}" is not a valid HTTP header name`), 'header names to StringMatch');

/** A Percent message (0..100). */
export const percent = obj('Percent', { value: num(0, 100) });

/** A port number 1..65535. */
export const portNumber = (): Schema => int(1, 65535);

/** A Destination: host, subset, port. */
export const destination = obj('Destination', {
  host: req(str(f.destinationHost)),
  subset: str(),
  port: obj('PortSelector', { number: portNumber() }),
});

const headerOps = obj('HeaderOperations', { set: map(str()), add: map(str()), remove: arr(str()) });
/** Header manipulation (request/response set/add/remove). */
export const headers = obj('Headers', { request: headerOps, response: headerOps });

/** A workload selector by matchLabels (security kinds, DestinationRule). */
export const matchLabelsSelector = obj('WorkloadSelector', { matchLabels: labels });

/** A workload selector by labels (Sidecar, ServiceEntry). */
export const labelsSelector = obj('WorkloadSelector', { labels });

/** exportTo: "." , "*" or namespace names. */
export const exportTo: Schema = arr(str((v) => (v === '.' || v === '*' || f.dnsLabel(v) === undefined ? undefined : { code: 'BOWLINE_E_API_EXPORT_TO', message: `exportTo entry "${v}" must be ".", "*" or a namespace name` })));

/** A Gateway API style target reference. */
export const targetRef = obj('PolicyTargetReference', {
  group: str((v) => (v === '' || (v.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(v)) ? undefined : { code: 'BOWLINE_E_API_TARGET_REF', message: `targetRef group "${v}" must be empty (core) or a DNS name such as gateway.networking.k8s.io` })),
  kind: req(str((v) => (/^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(v) && v.length <= 63 ? undefined : { code: 'BOWLINE_E_API_TARGET_REF', message: `targetRef kind "${v}" must be a kind name such as Service or Gateway` }))),
  name: req(str()),
  namespace: str((v) => (v === '' ? undefined : { code: 'BOWLINE_E_API_TARGET_REF', message: `targetRef namespace "${v}": a policy can only target resources in its own namespace`, hint: 'remove namespace' })),
});

/** A check that warns when a list of strings repeats a value. */
export function uniqueStrings(field: string, code: string): Check {
  return (o, path, ctx) => {
    const list = o[field];
    if (!Array.isArray(list)) return;
    const seen = new Set<unknown>();
    list.forEach((v, i) => {
      if (seen.has(v)) ctx.add({ severity: 'warning', code, path: [...path, field, i], message: `${field} repeats "${String(v)}"` });
      seen.add(v);
    });
  };
}
