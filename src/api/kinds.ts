import type { Kind } from './types/meta.js';

/** REST metadata of one kind: API group, accepted versions (newest first), plural and short names. */
export interface KindInfo { group: string; versions: string[]; plural: string; shortNames: string[]; namespaced: boolean }

const networking = ['v1', 'v1beta1', 'v1alpha3'];
const security = ['v1', 'v1beta1'];

/** Kind metadata for the REST API and for apiVersion checks. */
export const kinds: Record<Kind, KindInfo> = {
  VirtualService: { group: 'networking.istio.io', versions: networking, plural: 'virtualservices', shortNames: ['vs'], namespaced: true },
  DestinationRule: { group: 'networking.istio.io', versions: networking, plural: 'destinationrules', shortNames: ['dr'], namespaced: true },
  Gateway: { group: 'networking.istio.io', versions: networking, plural: 'gateways', shortNames: ['gw'], namespaced: true },
  ServiceEntry: { group: 'networking.istio.io', versions: networking, plural: 'serviceentries', shortNames: ['se'], namespaced: true },
  WorkloadEntry: { group: 'networking.istio.io', versions: networking, plural: 'workloadentries', shortNames: ['we'], namespaced: true },
  Sidecar: { group: 'networking.istio.io', versions: networking, plural: 'sidecars', shortNames: [], namespaced: true },
  WorkloadGroup: { group: 'networking.istio.io', versions: networking, plural: 'workloadgroups', shortNames: ['wg'], namespaced: true },
  ProxyConfig: { group: 'networking.istio.io', versions: ['v1beta1'], plural: 'proxyconfigs', shortNames: [], namespaced: true },
  Telemetry: { group: 'telemetry.istio.io', versions: ['v1', 'v1alpha1'], plural: 'telemetries', shortNames: ['telemetry'], namespaced: true },
  PeerAuthentication: { group: 'security.istio.io', versions: security, plural: 'peerauthentications', shortNames: ['pa'], namespaced: true },
  AuthorizationPolicy: { group: 'security.istio.io', versions: security, plural: 'authorizationpolicies', shortNames: ['ap'], namespaced: true },
  RequestAuthentication: { group: 'security.istio.io', versions: security, plural: 'requestauthentications', shortNames: ['ra'], namespaced: true },
  MeshPolicy: { group: 'authentication.istio.io', versions: ['v1alpha1'], plural: 'meshpolicies', shortNames: [], namespaced: false },
  Policy: { group: 'authentication.istio.io', versions: ['v1alpha1'], plural: 'policies', shortNames: [], namespaced: true },
};

/** Every kind name, in the order of `kinds`. */
export const kindNames = Object.keys(kinds) as Kind[];

/** True when `k` names one of Bowline's kinds. */
export function isKind(k: unknown): k is Kind {
  return typeof k === 'string' && Object.prototype.hasOwnProperty.call(kinds, k);
}

/** The apiVersions (group/version) accepted for a kind. */
export function apiVersionsOf(kind: Kind): string[] {
  const info = kinds[kind];
  return info.versions.map((v) => `${info.group}/${v}`);
}
