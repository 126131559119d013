/**
 * The Kubernetes webhooks as the control plane runs them: the TLS server (webhook.ts) with
 * validation and injection, plus the caBundle patcher (ca-bundle.ts) when an apiserver is
 * reachable (a kubeconfig, or the pod's service account inside a cluster).
 */
import { rootCertificateHash } from '../../ca/index.js';
import { parseListen } from '../../proxy-config/host-port.js';
import { CONTROL_PLANE_NAME, CONTROL_PLANE_PUSH_ADDRESS, MUTATING_WEBHOOK, SYSTEM_NAMESPACE, VALIDATING_WEBHOOK } from './names.js';
import { startWebhookServer, type WebhookCa, type WebhookServer } from './webhook.js';
import type { CaBundlePatcher } from './ca-bundle.js';

/** How long a token minted for one pod at admission stays redeemable (the pod may wait for a node). */
export const MINTED_TOKEN_TTL_MS = 24 * 3600_000;

/** The CA as the webhooks use it: serving certificates, the bundle, and minting per-pod tokens. */
export interface WebhooksCa extends WebhookCa {
  createToken(req: { ns: string; sa: string; workload?: string; ttlMs: number }): { token: string };
  /** The root that anchors the signing certificate (a projected-token proxy pins its hash). */
  signingRootPem(): string;
}

/** `bowline up`'s webhook settings. */
export interface KubeWebhookOptions {
  /** HOST:PORT to serve on (a cluster: 0.0.0.0:15017; tests: 127.0.0.1:0). */
  listen: string;
  validate: boolean;
  /** Injection settings, or undefined to turn injection off. */
  inject?: { image: string; server?: string; nativeSidecar?: boolean; failurePolicy?: 'Fail' | 'Ignore'; identity?: 'minted' | 'projected' };
  /** Extra DNS names for the serving certificate (the Service's names are always there). */
  dnsNames?: string[];
  /** A kubeconfig file for caBundle patching; default: in-cluster credentials when running in a pod, else none. */
  kubeconfig?: string;
  /** With several replicas: whether this one leads (only the leader patches caBundles); default: always. */
  isLeader?: () => boolean;
  /** Root namespace the webhook configurations name (default istio-system). */
  namespace?: string;
  log(line: string): void;
}

/** The running webhooks. */
export interface KubeWebhooks {
  server: WebhookServer;
  patcher?: CaBundlePatcher;
  close(): Promise<void>;
}

/** Starts the webhook server and, with apiserver credentials, the caBundle patcher. */
export async function startKubeWebhooks(ca: WebhooksCa, o: KubeWebhookOptions): Promise<KubeWebhooks> {
  const { host, port } = parseListen(o.listen, '--listen-webhook');
  const ns = o.namespace ?? SYSTEM_NAMESPACE;
  const svc = `${CONTROL_PLANE_NAME}.${ns}`;
  const server = await startWebhookServer({
    ca, host, port, validate: o.validate, log: o.log,
    dnsNames: [...new Set([`${svc}.svc`, `${svc}.svc.cluster.local`, svc, 'localhost', ...(o.dnsNames ?? [])])],
    ips: ['127.0.0.1', ...(host !== '0.0.0.0' && host !== '127.0.0.1' && /^[\d.]+$/.test(host) ? [host] : [])],
    ...(o.inject ? {
      inject: {
        image: o.inject.image, server: o.inject.server ?? CONTROL_PLANE_PUSH_ADDRESS,
        ...(o.inject.nativeSidecar ? { nativeSidecar: true } : {}),
        failurePolicy: o.inject.failurePolicy ?? 'Fail',
        mintToken: (tokenNs, sa, workload) => ca.createToken({ ns: tokenNs, sa, workload, ttlMs: MINTED_TOKEN_TTL_MS }).token,
        // Projected: the pod's own service-account token (audience istio-ca), reviewed by the control plane; the proxy pins today's root.
        ...(o.inject.identity === 'projected' ? { identity: { kind: 'projected' as const, rootHash: () => rootCertificateHash(ca.signingRootPem()) } } : {}),
      },
    } : {}),
  });
  let patcher: CaBundlePatcher | undefined;
  const inCluster = process.env.KUBERNETES_SERVICE_HOST !== undefined && process.env.KUBERNETES_SERVICE_PORT !== undefined;
  if (o.kubeconfig || inCluster) {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const { startCaBundlePatcher } = await import('./ca-bundle.js');
    const kc = new KubeConfig();
    if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
    else kc.loadFromCluster();
    patcher = startCaBundlePatcher(kc, ca, { ...(o.validate ? { validating: VALIDATING_WEBHOOK } : {}), ...(o.inject ? { mutating: MUTATING_WEBHOOK } : {}) }, { log: o.log, ...(o.isLeader ? { isLeader: o.isLeader } : {}) });
    if (o.isLeader?.() ?? true) await patcher.sync();
  } else {
    o.log('webhooks: no kubeconfig and not in a cluster: the webhook configurations\' caBundle is not patched (give --kubeconfig FILE)');
  }
  return { server, ...(patcher ? { patcher } : {}), close: async () => { patcher?.stop(); await server.close(); } };
}
