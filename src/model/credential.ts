/**
 * TLS credentials from Kubernetes Secrets, as Istio's `credentialName` reads them: a Secret in the
 * namespace of the proxy that uses it, with `tls.crt`/`tls.key`/`ca.crt` (type kubernetes.io/tls)
 * or Istio's generic `cert`/`key`/`cacert` keys; the CA of a MUTUAL server may also come from a
 * separate Secret named `NAME-cacert`. The control plane opens Secrets (they are sealed at rest) and
 * hands the snapshot only the decoded PEM text and, when a Secret cannot serve, why.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';

/** One Secret's TLS material (PEM), or why it cannot be used. */
export interface Credential {
  cert?: string;
  key?: string;
  ca?: string;
  /** Set when the Secret has TLS keys that do not fit together (the material is then not used). */
  problem?: string;
}

/** The key a credential is kept under in a snapshot: `NAMESPACE/NAME`. */
export function credentialKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

const text = (data: Record<string, string>, ...keys: string[]): string | undefined => {
  for (const k of keys) if (data[k] !== undefined) return Buffer.from(data[k]!, 'base64').toString('utf8');
  return undefined;
};

/**
 * Decodes a Secret's `data` (base64 values, as Kubernetes keeps them) into a Credential; undefined
 * when it holds none of the TLS keys (an unrelated Secret). A certificate that does not parse, a key
 * that does not parse or does not belong to the certificate, or a key without a certificate is a
 * `problem` (fail closed: such a Secret serves nothing).
 */
export function decodeCredential(data: Record<string, string>): Credential | undefined {
  const cert = text(data, 'tls.crt', 'cert');
  const key = text(data, 'tls.key', 'key');
  const ca = text(data, 'ca.crt', 'cacert');
  if (cert === undefined && key === undefined && ca === undefined) return undefined;
  const out: Credential = {};
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
      out.ca = ca;
    } catch (err) {
      return { problem: `its CA certificate (ca.crt/cacert) does not parse: ${(err as Error).message}` };
    }
  }
  if (cert === undefined && key === undefined) return out;
  if (cert === undefined || key === undefined) return { problem: `it has a ${cert === undefined ? 'key' : 'certificate'} but no ${cert === undefined ? 'certificate (tls.crt/cert)' : 'key (tls.key/key)'}` };
  try {
    const x = new X509Certificate(cert);
    if (!x.checkPrivateKey(createPrivateKey(key))) return { problem: 'its key does not belong to its certificate' };
  } catch (err) {
    return { problem: `its certificate or key does not parse: ${(err as Error).message}` };
  }
  return { ...out, cert, key };
}
