/**
 * TLS material from the config's secrets: PEM text inline, or `file:PATH` read by the proxy
 * (user-provided certificates, Istio's `credentialName`/file mounts). Read at config compile
 * time, so a missing file refuses the config instead of failing connections later.
 */
import { readFileSync } from 'node:fs';
import type { Secret } from '../../proxy-config/types.js';

/** A secret that could not be resolved (code BOWLINE_E_TLS_SECRET). */
export class TlsSecretError extends Error {
  readonly code = 'BOWLINE_E_TLS_SECRET';
  override name = 'TlsSecretError';
}

/** PEM text of a secret field: inline, or the content of `file:PATH`. */
export function pem(value: string | undefined, what: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!value.startsWith('file:')) return value;
  const path = value.slice(5);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TlsSecretError(`cannot read ${what} from ${path}: ${(err as Error).message} (BOWLINE_E_TLS_SECRET)`);
  }
}

/** Resolved secrets by name. */
export interface SecretMaterial {
  cert?: string;
  key?: string;
  ca?: string;
}

/** Looks secrets up by name, reading files once per compile. */
export class SecretResolver {
  private readonly byName: Map<string, Secret>;
  private readonly cache = new Map<string, SecretMaterial>();

  constructor(secrets: readonly Secret[]) {
    this.byName = new Map(secrets.map((s) => [s.name, s]));
  }

  /** The secret's PEM material; throws TlsSecretError when missing or unreadable. */
  get(name: string): SecretMaterial {
    let m = this.cache.get(name);
    if (m !== undefined) return m;
    const s = this.byName.get(name);
    if (s === undefined) throw new TlsSecretError(`secret "${name}" does not exist (BOWLINE_E_TLS_SECRET)`);
    m = {};
    const cert = pem(s.certificateChain, `secret ${name} certificateChain`);
    const key = pem(s.privateKey, `secret ${name} privateKey`);
    const ca = pem(s.trustedCa, `secret ${name} trustedCa`);
    if (cert !== undefined) m.cert = cert;
    if (key !== undefined) m.key = key;
    if (ca !== undefined) m.ca = ca;
    this.cache.set(name, m);
    return m;
  }
}
