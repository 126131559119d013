/**
 * The two secrets every mesh proxy's mTLS uses: its workload certificate (`default`, Istio's
 * name) and the mesh roots (`ROOTCA`). The control plane cannot send their material (the key
 * never leaves the proxy), so it sends placeholders whose fields start with `workload:`; the
 * proxy fills them from its live credentials before compiling (src/proxy/identity/secrets.ts).
 */
import type { Secret } from './types.js';

/** Name of the workload certificate secret (certificate chain + key). */
export const WORKLOAD_CERT_SECRET = 'default';
/** Name of the mesh trust bundle secret. */
export const ROOT_CA_SECRET = 'ROOTCA';
/** Prefix of a secret field the proxy fills from its own identity. */
export const WORKLOAD_SOURCE = 'workload:';

/** The placeholder secrets as the control plane sends them. */
export function workloadSecretPlaceholders(): Secret[] {
  return [
    { name: WORKLOAD_CERT_SECRET, kind: 'tls-certificate', certificateChain: `${WORKLOAD_SOURCE}certificate`, privateKey: `${WORKLOAD_SOURCE}key` },
    { name: ROOT_CA_SECRET, kind: 'validation', trustedCa: `${WORKLOAD_SOURCE}roots` },
  ];
}

/** True when a secret's material comes from the proxy's own identity. */
export function isWorkloadSecret(s: Secret): boolean {
  return [s.certificateChain, s.privateKey, s.trustedCa].some((v) => typeof v === 'string' && v.startsWith(WORKLOAD_SOURCE));
}
