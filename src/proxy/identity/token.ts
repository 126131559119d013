import { IDENTITY_ERRORS, IdentityError } from './errors.js';

/** What the proxy reads from its bootstrap token (it cannot check the HMAC; the control plane does). */
export interface BootstrapTokenInfo {
  namespace: string;
  serviceAccount: string;
  workload?: string;
  /** `sha256:HEX` of the control plane's root certificate: verify it with verifyRootPin. Absent in a Kubernetes service-account token. */
  rootHash?: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

/**
 * Decodes a bootstrap token's payload (`header.payload.signature`): Bowline's, or a Kubernetes
 * service-account token (a pod's projected `istio-token`, whose namespace and service account are
 * in its `kubernetes.io` claim; the control plane reviews it with the apiserver). Throws
 * IdentityError TOKEN_MALFORMED.
 */
export function readBootstrapToken(token: string): BootstrapTokenInfo {
  const parts = token.trim().split('.');
  try {
    if (parts.length !== 3) throw new Error('expected three dot-separated parts');
    const c = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const k8s = c['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown } } | undefined;
    if (k8s && typeof k8s.namespace === 'string' && typeof k8s.serviceaccount?.name === 'string' && typeof c.exp === 'number') {
      return { namespace: k8s.namespace, serviceAccount: k8s.serviceaccount.name, expiresAt: c.exp * 1000 };
    }
    if (typeof c.ns !== 'string' || typeof c.sa !== 'string' || typeof c.root !== 'string' || typeof c.exp !== 'number') throw new Error('missing ns, sa, root or exp');
    return { namespace: c.ns, serviceAccount: c.sa, ...(typeof c.wl === 'string' ? { workload: c.wl } : {}), rootHash: c.root, expiresAt: c.exp * 1000 };
  } catch (err) {
    throw new IdentityError(IDENTITY_ERRORS.TOKEN_MALFORMED, `the bootstrap token cannot be read (${(err as Error).message}); create one with \`bowline token create\``, { cause: err });
  }
}
