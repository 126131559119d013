/**
 * Keeps the ingress gateway's join token in the cluster: the Secret
 * `bowline-join-istio-ingressgateway` (key `token`) in the root namespace, which the gateway
 * Deployment of `bowline install kubernetes` mounts. The control plane writes a reusable bootstrap
 * token for (root namespace, istio-ingressgateway) when the Secret is missing, unreadable as a
 * token, or expires within a quarter of its lifetime, so a fresh install's gateway gets its
 * certificate with no human step (the injection webhook does the same for pods; the gateway is not
 * injected). Checked at start and every `intervalMs` (10 s: one GET).
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

/** Name of the gateway's join Secret (and the ServiceAccount it is for, with the prefix removed). */
export const GATEWAY_JOIN_SECRET = 'bowline-join-istio-ingressgateway';
const GATEWAY_SA = 'istio-ingressgateway';
/** Lifetime of the token written; uses allow one first certificate per gateway pod start. */
const TTL_MS = 90 * 24 * 3600_000;
const MAX_USES = 10_000;

/** The CA call the keeper makes. */
export interface TokenMinter {
  createToken(req: { ns: string; sa: string; ttlMs: number; maxUses?: number }): { token: string };
}

function expiryOf(token: string): number | undefined {
  try {
    const exp = (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Starts keeping the Secret; `sync()` runs one round and resolves to true when it wrote the Secret. */
export function startGatewayJoinSecret(kc: KubeConfig, ca: TokenMinter, namespace: string, opts: { intervalMs?: number; log?: (line: string) => void; now?: () => number } = {}): { sync(): Promise<boolean>; stop(): void } {
  const api = kc.makeApiClient(CoreV1Api);
  const log = opts.log ?? (() => {});
  const now = opts.now ?? Date.now;
  let lastError = '';
  const sync = async (): Promise<boolean> => {
    try {
      let existing: { data?: Record<string, string>; metadata?: { resourceVersion?: string } } | undefined;
      try {
        existing = await api.readNamespacedSecret({ name: GATEWAY_JOIN_SECRET, namespace });
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
      const current = existing?.data?.['token'] ? Buffer.from(existing.data['token'], 'base64').toString() : '';
      const exp = current ? expiryOf(current) : undefined;
      if (exp !== undefined && exp - now() > TTL_MS / 4) { lastError = ''; return false; }
      const token = ca.createToken({ ns: namespace, sa: GATEWAY_SA, ttlMs: TTL_MS, maxUses: MAX_USES }).token;
      const body = {
        apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
        metadata: { name: GATEWAY_JOIN_SECRET, namespace, labels: { 'app.kubernetes.io/part-of': 'bowline', 'app.kubernetes.io/managed-by': 'bowline-control-plane' }, ...(existing?.metadata?.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}) },
        stringData: { token },
      };
      if (existing) await api.replaceNamespacedSecret({ name: GATEWAY_JOIN_SECRET, namespace, body });
      else await api.createNamespacedSecret({ namespace, body });
      log(`gateway: join token for ${namespace}/${GATEWAY_SA} written to Secret ${namespace}/${GATEWAY_JOIN_SECRET} (valid ${TTL_MS / 86_400_000} days)`);
      lastError = '';
      return true;
    } catch (err) {
      const msg = (err as Error).message;
      if (msg !== lastError) log(`gateway: cannot write Secret ${namespace}/${GATEWAY_JOIN_SECRET}: ${msg} (retrying)`);
      lastError = msg;
      return false;
    }
  };
  const timer = setInterval(() => void sync(), opts.intervalMs ?? 10_000);
  timer.unref();
  return { sync, stop: () => clearInterval(timer) };
}
