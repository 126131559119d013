import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { certificateValidity } from './credentials.js';
import { loadPersistedIdentity, persistIdentity } from './persisted.js';
import { tempDir } from '../../../test/support/temp.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

/** A real one-day certificate and key from openssl. */
function credentials(dir: string) {
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=vm', '-keyout', join(dir, 'k'), '-out', join(dir, 'c')], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const chainPem = readFileSync(join(dir, 'c'), 'utf8');
  return { keyPem: readFileSync(join(dir, 'k'), 'utf8'), chainPem, trustBundlePem: chainPem, spiffeId: 'spiffe://cluster.local/ns/default/sa/vmsa', ...certificateValidity(chainPem) };
}

describe('the workload identity kept on disk (--identity-dir)', () => {
  it('is written 0600 in a 0700 directory and read back while valid (a restart needs no token)', () => {
    const work = tempDir('bowline-identity-');
    dirs.push(work);
    const c = credentials(work);
    const dir = join(work, 'identity');
    persistIdentity(dir, c);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of ['key.pem', 'cert-chain.pem', 'root-cert.pem']) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    expect(loadPersistedIdentity(dir, c.spiffeId).credentials).toEqual(c);
  });

  it('reports a certificate that expired while the proxy was down, and nothing when there is none', () => {
    const work = tempDir('bowline-identity-');
    dirs.push(work);
    const c = credentials(work);
    persistIdentity(join(work, 'identity'), c);
    expect(loadPersistedIdentity(join(work, 'identity'), c.spiffeId, c.notAfter + 1)).toEqual({ expiredAt: c.notAfter });
    expect(loadPersistedIdentity(join(work, 'absent'), c.spiffeId)).toEqual({});
  });
});
