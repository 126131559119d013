/** Istio MeshConfig as Bowline reads it (the `istio` ConfigMap's data.mesh, or a --mesh-config file), with defaults applied. */
export interface MeshConfig {
  trustDomain: string;
  /** Other trust domains whose workloads are this mesh's own (peers, authorization principals). */
  trustDomainAliases?: string[];
  /** The mesh id in force (src/control/mesh.ts meshIdOf): `--mesh-id` (Istio's `global.meshID`), else `defaultConfig.meshId`, else the trust domain. */
  meshId?: string;
  rootNamespace: string;
  enableAutoMtls: boolean;
  outboundTrafficPolicy: { mode: 'ALLOW_ANY' | 'REGISTRY_ONLY' };
  accessLogFile: string;
  accessLogEncoding: 'TEXT' | 'JSON';
  defaultConfig: { tracing: { sampling: number; zipkin?: { address: string } }; [k: string]: unknown };
  [k: string]: unknown;
}
