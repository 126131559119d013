/**
 * Remote cluster Secrets, Istio's "remote secret" shape: a Secret in the root namespace labelled
 * `istio/multiCluster: "true"` whose data keys are cluster ids and whose values are kubeconfigs
 * (server, credentials, CA). `bowline cluster add` writes one, `kubectl apply` of an Istio remote
 * secret works as is. The annotation `bowline.io/remote-kind: bowline` says the server is a Bowline
 * control plane (read through its registry view, a registry-read token in the kubeconfig);
 * without it the server is a Kubernetes API (read with the Kubernetes registry).
 */
import { stringify } from 'yaml';
import type { StoredObject } from '../../store/store.js';

/** The label that marks a remote cluster Secret. */
export const MULTICLUSTER_LABEL = 'istio/multiCluster';
/** Istio's annotation naming the cluster a remote secret is for. */
export const CLUSTER_ANNOTATION = 'networking.istio.io/cluster';
/** `bowline` or `kubernetes` (default): what the kubeconfig's server is. */
export const REMOTE_KIND_ANNOTATION = 'bowline.io/remote-kind';
/** The network of a Kubernetes remote's endpoints that carry no network label (a Bowline remote says its own). */
export const REMOTE_NETWORK_ANNOTATION = 'topology.istio.io/network';

/** One remote cluster as its Secret describes it. */
export interface RemoteClusterSpec {
  /** The cluster id (the data key). */
  name: string;
  kind: 'bowline' | 'kubernetes';
  /** The kubeconfig text (YAML or JSON). */
  kubeconfig: string;
  /** Network of endpoints that name none (Kubernetes remotes). */
  network?: string;
  /** `NAMESPACE/NAME` of the Secret. */
  secret: string;
}

/** The Secret name `bowline cluster add NAME` uses (Istio's `istio-remote-secret-NAME`). */
export function remoteSecretName(cluster: string): string {
  return `istio-remote-secret-${cluster}`;
}

/** A kubeconfig for a Bowline remote: its API URL, a registry-read token and optionally the CA of its TLS API. */
export function bowlineKubeconfig(o: { cluster: string; server: string; token: string; caPem?: string }): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: o.cluster, cluster: { server: o.server, ...(o.caPem ? { 'certificate-authority-data': Buffer.from(o.caPem).toString('base64') } : {}) } }],
    users: [{ name: o.cluster, user: { token: o.token } }],
    contexts: [{ name: o.cluster, context: { cluster: o.cluster, user: o.cluster } }],
    'current-context': o.cluster,
  });
}

/** The remote cluster Secret for one cluster. */
export function remoteSecret(o: { cluster: string; namespace: string; kind: 'bowline' | 'kubernetes'; kubeconfig: string; network?: string }): StoredObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: remoteSecretName(o.cluster),
      namespace: o.namespace,
      labels: { [MULTICLUSTER_LABEL]: 'true' },
      annotations: { [CLUSTER_ANNOTATION]: o.cluster, [REMOTE_KIND_ANNOTATION]: o.kind, ...(o.network ? { [REMOTE_NETWORK_ANNOTATION]: o.network } : {}) },
    },
    type: 'Opaque',
    stringData: { [o.cluster]: o.kubeconfig },
  };
}

/** True for a Secret labelled `istio/multiCluster: "true"`. */
export function isRemoteSecret(obj: StoredObject): boolean {
  return obj.kind === 'Secret' && obj.metadata.labels?.[MULTICLUSTER_LABEL] === 'true';
}

/** The clusters a remote Secret describes, from its opened `data` (base64 values). */
export function clustersOfSecret(obj: StoredObject, data: Record<string, string>): RemoteClusterSpec[] {
  const ann = obj.metadata.annotations ?? {};
  const kind = ann[REMOTE_KIND_ANNOTATION] === 'bowline' ? 'bowline' : 'kubernetes';
  const network = ann[REMOTE_NETWORK_ANNOTATION];
  return Object.entries(data)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, b64]) => ({ name, kind, kubeconfig: Buffer.from(b64, 'base64').toString('utf8'), ...(network ? { network } : {}), secret: `${obj.metadata.namespace ?? ''}/${obj.metadata.name}` }));
}
