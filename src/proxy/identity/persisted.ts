/**
 * The workload key and certificate kept on disk (`bowline proxy --identity-dir DIR`, the VM unit's
 * /etc/bowline/identity): written 0600 after every renewal, read at start, so a restarted proxy
 * authenticates with its certificate and needs no new bootstrap token. A certificate that expired
 * while the proxy was down cannot be renewed with itself: it is reported, and the token is tried.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certificateValidity, type WorkloadCredentials } from './credentials.js';

const FILES = { key: 'key.pem', chain: 'cert-chain.pem', roots: 'root-cert.pem' } as const;

/** Reads the saved credentials for `spiffeId`: valid ones, or when they expired; nothing when absent or for another identity. */
export function loadPersistedIdentity(dir: string, spiffeId: string, now = Date.now()): { credentials?: WorkloadCredentials; expiredAt?: number } {
  let keyPem: string;
  let chainPem: string;
  let trustBundlePem: string;
  try {
    keyPem = readFileSync(join(dir, FILES.key), 'utf8');
    chainPem = readFileSync(join(dir, FILES.chain), 'utf8');
    trustBundlePem = readFileSync(join(dir, FILES.roots), 'utf8');
  } catch {
    return {};
  }
  let validity: { notBefore: number; notAfter: number };
  try {
    validity = certificateValidity(chainPem);
  } catch {
    return {};
  }
  if (!chainPem.includes('BEGIN CERTIFICATE') || validity.notAfter <= now) return { expiredAt: validity.notAfter };
  return { credentials: { keyPem, chainPem, trustBundlePem, spiffeId, ...validity } };
}

/** Saves credentials (each file written whole, then renamed into place; 0600, the directory 0700). */
export function persistIdentity(dir: string, c: WorkloadCredentials): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const [name, text] of [[FILES.key, c.keyPem], [FILES.chain, c.chainPem], [FILES.roots, c.trustBundlePem]] as const) {
    const tmp = join(dir, `.${name}.tmp`);
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, join(dir, name));
  }
}
