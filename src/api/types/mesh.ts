/** Istio MeshConfig as Bowline reads it (the `istio` ConfigMap's data.mesh, or a --mesh-config file), with defaults applied. */
export interface MeshConfig {
  trustDomain: string;
  /** Other trust domains whose workloads are this mesh's own (peers, authorization principals). */
  trustDomainAliases?: string[];
  /** Istio's meshId (MeshConfig `meshId`, install value `global.meshID`). */
  meshId?: string;
  rootNamespace: string;
  enableAutoMtls: boolean;
  outboundTrafficPolicy: { mode: 'ALLOW_ANY' | 'REGISTRY_ONLY' };
  accessLogFile: string;
  accessLogEncoding: 'TEXT' | 'JSON';
  defaultConfig: { tracing: { sampling: number; zipkin?: { address: string } }; [k: string]: unknown };
  [k: string]: unknown;
}
