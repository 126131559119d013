/** Upstream clusters with DestinationRule semantics: load balancing, consistent hashing, outlier detection. */
export { ClusterManager, type ClusterManagerOptions, type ClusterState } from './manager.js';
export { UpstreamEndpoint, endpointKey, type OutlierState } from './endpoint.js';
export { cookieFromHeader, hashCookieHeader, hash32 } from './hash.js';
export { OutlierDetector, MAX_EJECTION_TIME_MS } from './outlier.js';
export type { PickContext, PickResult, UpstreamOutcome, ClusterSnapshot, EndpointSnapshot } from './types.js';
export type { Balancer, Usable } from './balancer.js';
