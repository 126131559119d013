import { readFileSync, rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { demoCaCerts, DEMO_CLUSTERS } from './multicluster.js';
import { tempDir } from '../../../test/support/temp.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('multi-cluster demo CA', () => {
  it("writes one root and each cluster's four cacerts files chaining to it, and reuses them in a kept home", async () => {
    const home = tempDir('bowline-mc-demo-');
    dirs.push(home);
    const names = DEMO_CLUSTERS.map((c) => c.name);
    const dirsOf = await demoCaCerts(home, names);
    expect(Object.keys(dirsOf)).toEqual(['cluster-1', 'cluster-2']);
    const root = new X509Certificate(readFileSync(path.join(home, 'pki', 'root', 'root-cert.pem')));
    for (const c of names) {
      const ca = new X509Certificate(readFileSync(path.join(dirsOf[c]!, 'ca-cert.pem')));
      expect(ca.verify(root.publicKey)).toBe(true);
      expect(readFileSync(path.join(dirsOf[c]!, 'root-cert.pem'), 'utf8')).toBe(root.toString());
      expect(readFileSync(path.join(dirsOf[c]!, 'cert-chain.pem'), 'utf8')).toContain(root.toString().trim());
    }
    const key = readFileSync(path.join(dirsOf['cluster-1']!, 'ca-key.pem'), 'utf8');
    await demoCaCerts(home, names); // a second run in the same --home keeps the keys (never overwritten)
    expect(readFileSync(path.join(dirsOf['cluster-1']!, 'ca-key.pem'), 'utf8')).toBe(key);
  });
});
