import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CA_ERRORS, CaError } from './errors.js';

/**
 * The key-encryption key (KEK) that keeps the CA's private keys encrypted at rest
 * (AES-256-GCM). Taken from `--ca-kek-file`, else env BOWLINE_CA_KEK, else the file
 * `$BOWLINE_HOME/ca-kek`, generated there with mode 0600 on first start so a demo needs no setup.
 */

/** A loaded key-encryption key and where it came from (for messages). */
export interface Kek {
  key: Buffer;
  /** `file /path`, `env BOWLINE_CA_KEK` or `generated file /path`. */
  source: string;
  /** Short fingerprint of the key, stored with each ciphertext so a mismatch names both keys. */
  id: string;
}

/** An encrypted blob as stored: AES-256-GCM with the KEK, bound to its purpose by the AAD. */
export interface SealedBox {
  alg: 'A256GCM';
  kid: string;
  iv: string;
  tag: string;
  data: string;
}

/** The fingerprint of a KEK: the first 8 bytes of SHA-256 over it, in hex. */
export function kekId(key: Buffer): string {
  return createHash('sha256').update('bowline-kek').update(key).digest('hex').slice(0, 16);
}

/** Decodes a KEK from file bytes or env text: 32 raw bytes, 64 hex digits or base64 of 32 bytes. */
export function parseKek(raw: Buffer | string, source: string): Kek {
  const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
  let key: Buffer | undefined;
  if (bytes.length === 32) key = Buffer.from(bytes);
  else {
    const text = bytes.toString('utf8').trim();
    if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, 'hex');
    else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) key = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  }
  if (!key || key.length !== 32) {
    throw new CaError(CA_ERRORS.KEK_INVALID, `the key-encryption key from ${source} is not 32 bytes (give 32 raw bytes, 64 hex digits or base64 of 32 bytes, e.g. \`openssl rand -base64 32\`)`);
  }
  return { key, source, id: kekId(key) };
}

/** Where the generated KEK lives when none is configured. */
export function defaultKekPath(env: NodeJS.ProcessEnv = process.env, home?: string): string {
  return join(home || env.BOWLINE_HOME || join(homedir(), '.bowline'), 'ca-kek');
}

/** Resolves the KEK: `kekFile`, else env BOWLINE_CA_KEK, else `HOME/ca-kek` (home: `opts.home`, $BOWLINE_HOME, ~/.bowline; created 0600 when absent). */
export function loadKek(opts: { kekFile?: string; env?: NodeJS.ProcessEnv; home?: string } = {}): Kek {
  const env = opts.env ?? process.env;
  if (opts.kekFile) {
    let raw: Buffer;
    try {
      raw = readFileSync(opts.kekFile);
    } catch (err) {
      throw new CaError(CA_ERRORS.KEK_INVALID, `cannot read the key-encryption key file ${opts.kekFile}: ${(err as Error).message}`, { cause: err });
    }
    return parseKek(raw, `file ${opts.kekFile}`);
  }
  if (env.BOWLINE_CA_KEK) return parseKek(env.BOWLINE_CA_KEK, 'env BOWLINE_CA_KEK');
  const path = defaultKekPath(env, opts.home);
  if (existsSync(path)) return parseKek(readFileSync(path), `file ${path}`);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return parseKek(readFileSync(path), `generated file ${path}`);
}

/** Encrypts `plaintext` with the KEK; `purpose` (e.g. the storage key) is authenticated with it. */
export function seal(kek: Kek, plaintext: Buffer, purpose: string): SealedBox {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek.key, iv);
  c.setAAD(Buffer.from(purpose));
  const data = Buffer.concat([c.update(plaintext), c.final()]);
  return { alg: 'A256GCM', kid: kek.id, iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), data: data.toString('base64') };
}

/** Decrypts a sealed box; a wrong KEK or altered data throws CaError KEK_MISMATCH naming both keys. */
export function open(kek: Kek, box: SealedBox, purpose: string): Buffer {
  try {
    const d = createDecipheriv('aes-256-gcm', kek.key, Buffer.from(box.iv, 'base64'));
    d.setAAD(Buffer.from(purpose));
    d.setAuthTag(Buffer.from(box.tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(box.data, 'base64')), d.final()]);
  } catch (err) {
    const which = box.kid === kek.id
      ? 'the stored ciphertext was altered or is damaged'
      : `it was encrypted with key-encryption key ${box.kid} but the configured key (${kek.source}) is ${kek.id}`;
    throw new CaError(
      CA_ERRORS.KEK_MISMATCH,
      `cannot decrypt the CA private key "${purpose}": ${which}. Start the control plane with the key-encryption key used when the CA was created (--ca-kek-file or BOWLINE_CA_KEK).`,
      { cause: err },
    );
  }
}
