/**
 * The Kubernetes parts of the control plane that need its CA (docs/platforms/kubernetes.md): the
 * admission webhooks (`bowline up --listen-webhook`) and, with a cluster to talk to, the ingress
 * gateway's join-token Secret. Loaded lazily: a control plane without a cluster never loads the client.
 */
import type { CertificateAuthority } from '../ca/index.js';
import type { KubeWebhookOptions } from '../platform/kubernetes/webhooks.js';
import type { KubernetesSource } from './registries.js';

/** What the Kubernetes parts are started with. */
export interface KubePartsSettings {
  ca: CertificateAuthority;
  rootNamespace: string;
  /** Webhook settings; absent: no webhooks. */
  webhooks?: Omit<KubeWebhookOptions, 'log' | 'namespace' | 'kubeconfig' | 'isLeader'>;
  /** With several replicas (`--config-source kubernetes`): whether this one leads. */
  isLeader?: () => boolean;
  /** The first cluster of `--kubeconfig` / `--kube-in-cluster`: its apiserver gets the caBundle patches and the join Secret. */
  cluster?: KubernetesSource;
  log(line: string): void;
}

/** Starts the webhooks and the join Secret keeper as configured; `webhookPort` is the bound webhook port, `leading()` tells them this replica now leads. */
export async function startKubeParts(s: KubePartsSettings): Promise<{ webhookPort?: number; leading(): void; close(): Promise<void> }> {
  const stops: Array<() => void | Promise<void>> = [];
  const close = async () => { for (const stop of stops.splice(0).reverse()) await stop(); };
  let webhookPort: number | undefined;
  let leading = () => {};
  try {
    if (s.webhooks) {
      const { startKubeWebhooks } = await import('../platform/kubernetes/webhooks.js');
      const wh = await startKubeWebhooks(s.ca, { ...s.webhooks, namespace: s.rootNamespace, log: s.log, ...(s.isLeader ? { isLeader: s.isLeader } : {}), ...(s.cluster?.kubeconfig ? { kubeconfig: s.cluster.kubeconfig } : {}) })
        .catch((err: Error) => { throw Object.assign(new Error(`webhooks: ${err.message}`), { cause: err, ...('code' in err ? { code: err.code } : {}) }); });
      webhookPort = wh.server.port;
      leading = () => { void wh.patcher?.sync(); };
      stops.push(() => wh.close());
    }
    if (s.cluster) {
      // The ingress gateway's join token, kept in its Secret in the cluster.
      const { KubeConfig } = await import('@kubernetes/client-node');
      const { startGatewayJoinSecret } = await import('../platform/kubernetes/join-secret.js');
      const kc = new KubeConfig();
      if (s.cluster.kubeconfig) kc.loadFromFile(s.cluster.kubeconfig);
      else kc.loadFromCluster();
      const keeper = startGatewayJoinSecret(kc, s.ca, s.rootNamespace, { log: s.log });
      void keeper.sync();
      stops.push(() => keeper.stop());
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { ...(webhookPort !== undefined ? { webhookPort } : {}), leading: () => leading(), close };
}
