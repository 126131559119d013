import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCredential } from './credential.js';
import { tempDir } from '../../test/support/temp.js';

const dir = tempDir('bowline-cred-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** A self-signed certificate and its key, made by openssl (PEM). */
function pair(cn: string): { cert: string; key: string } {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-days', '1', '-keyout', join(dir, `${cn}.key`), '-out', join(dir, `${cn}.crt`)], { stdio: 'ignore' });
  return { cert: readFileSync(join(dir, `${cn}.crt`), 'utf8'), key: readFileSync(join(dir, `${cn}.key`), 'utf8') };
}
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('credentials from Secrets (credentialName)', () => {
  const a = pair('a.example.com');
  const b = pair('b.example.com');
  it('reads kubernetes.io/tls keys and Istio generic keys alike', () => {
    expect(decodeCredential({ 'tls.crt': b64(a.cert), 'tls.key': b64(a.key), 'ca.crt': b64(b.cert) })).toEqual({ cert: a.cert, key: a.key, ca: b.cert });
    expect(decodeCredential({ cert: b64(a.cert), key: b64(a.key), cacert: b64(b.cert) })).toEqual({ cert: a.cert, key: a.key, ca: b.cert });
    expect(decodeCredential({ cacert: b64(b.cert) })).toEqual({ ca: b.cert });
  });
  it('an unrelated Secret is no credential; material that does not fit is a problem, never used', () => {
    expect(decodeCredential({ password: b64('x') })).toBeUndefined();
    expect(decodeCredential({ 'tls.crt': b64(a.cert), 'tls.key': b64(b.key) })).toEqual({ problem: 'its key does not belong to its certificate' });
    expect(decodeCredential({ 'tls.crt': b64(a.cert) })?.problem).toMatch(/no key/);
    expect(decodeCredential({ 'tls.crt': b64('garbage'), 'tls.key': b64(a.key) })?.problem).toMatch(/does not parse/);
  });
});
