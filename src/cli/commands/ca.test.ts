import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCacerts } from '../../ca/root.js';
import { runCa } from './ca.js';
import { tempDir } from '../../../test/support/temp.js';

describe('bowline ca', () => {
  it('root / intermediate write usable files and never overwrite a key', async () => {
    const base = tempDir('bowline-ca-cli-');
    const out: string[] = [];
    const io = { stdout: (s: string) => out.push(s), stderr: (s: string) => out.push(s) };
    expect(await runCa(['root', '-o', join(base, 'root')], io)).toBe(0);
    expect(statSync(join(base, 'root', 'root-key.pem')).mode & 0o777).toBe(0o600);
    expect(await runCa(['intermediate', '--root', join(base, 'root'), '--cluster', 'cluster-1', '-o', join(base, 'c1')], io)).toBe(0);
    const files = Object.fromEntries(['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'].map((f) => [f, readFileSync(join(base, 'c1', f), 'utf8')]));
    expect(parseCacerts(files, 'c1').rootsPem[0]).toBe(readFileSync(join(base, 'root', 'root-cert.pem'), 'utf8'));
    await expect(runCa(['root', '-o', join(base, 'root')], io)).rejects.toThrow(/refusing to overwrite/);
    await expect(runCa(['intermediate', '--root', join(base, 'root'), '-o', join(base, 'c2')], io)).rejects.toThrow(/--cluster/);
  });
});
