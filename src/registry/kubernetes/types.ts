/**
 * The parts of Kubernetes objects the registry reads (core/v1 Service, Pod, Node, Namespace, Endpoints;
 * discovery.k8s.io/v1 EndpointSlice), as the apiserver's JSON spells them. Every field the
 * apiserver may leave out is optional, so a partial object never throws.
 */

/** metadata of any object. */
export interface KubeMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }>;
}

/** One port of a Service. */
export interface KubeServicePort {
  name?: string;
  port: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
  targetPort?: number | string;
}

/** core/v1 Service. */
export interface KubeService {
  metadata: KubeMeta;
  spec?: {
    type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
    clusterIP?: string;
    clusterIPs?: string[];
    externalName?: string;
    ports?: KubeServicePort[];
    selector?: Record<string, string>;
  };
}

/** One endpoint of an EndpointSlice. */
export interface KubeSliceEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  nodeName?: string;
  zone?: string;
  targetRef?: { kind?: string; name?: string; namespace?: string; uid?: string };
}

/** discovery.k8s.io/v1 EndpointSlice. */
export interface KubeEndpointSlice {
  metadata: KubeMeta;
  addressType?: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints?: KubeSliceEndpoint[];
  ports?: Array<{ name?: string; port?: number; protocol?: string; appProtocol?: string }>;
}

/** core/v1 Pod. */
export interface KubePod {
  metadata: KubeMeta;
  spec?: { serviceAccountName?: string; nodeName?: string; hostNetwork?: boolean };
  status?: { phase?: string; podIP?: string; podIPs?: Array<{ ip: string }>; conditions?: Array<{ type: string; status: string }> };
}

/** core/v1 Node. */
export interface KubeNode {
  metadata: KubeMeta;
}

/** Anything listed and watched. */
export type KubeObject = KubeService | KubeEndpointSlice | KubePod | KubeNode | KubeNamespace | KubeEndpoints;

/** core/v1 Namespace (its labels select it for discovery and may name the cluster's network). */
export interface KubeNamespace {
  metadata: KubeMeta;
}

/** One address of a core/v1 Endpoints subset. */
export interface KubeEndpointAddress {
  ip: string;
  nodeName?: string;
  targetRef?: { kind?: string; name?: string; namespace?: string };
}

/** core/v1 Endpoints: read only where EndpointSlices cannot be (the fallback). */
export interface KubeEndpoints {
  metadata: KubeMeta;
  subsets?: Array<{
    addresses?: KubeEndpointAddress[];
    notReadyAddresses?: KubeEndpointAddress[];
    ports?: Array<{ name?: string; port: number; protocol?: string; appProtocol?: string }>;
  }>;
}
