import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CA_ERRORS } from './errors.js';
import { loadKek, open, parseKek, seal } from './kek.js';
import { tempDir } from '../../test/support/temp.js';

describe('key-encryption key', () => {
  it('is generated into $BOWLINE_HOME/ca-kek with mode 0600 when none is given, and reused', () => {
    const home = tempDir('bowline-kek-');
    const a = loadKek({ env: { BOWLINE_HOME: home } });
    expect(a.source).toBe(`generated file ${join(home, 'ca-kek')}`);
    expect(statSync(join(home, 'ca-kek')).mode & 0o777).toBe(0o600);
    const b = loadKek({ env: { BOWLINE_HOME: home } });
    expect(b.key.equals(a.key)).toBe(true);
  });

  it('comes from --ca-kek-file before env BOWLINE_CA_KEK, in raw, hex or base64 form', () => {
    const dir = tempDir('bowline-kek-');
    writeFileSync(join(dir, 'k'), Buffer.alloc(32, 5));
    const hex = Buffer.alloc(32, 6).toString('hex');
    expect(loadKek({ kekFile: join(dir, 'k'), env: { BOWLINE_CA_KEK: hex } }).key).toEqual(Buffer.alloc(32, 5));
    expect(loadKek({ env: { BOWLINE_CA_KEK: hex } }).key).toEqual(Buffer.alloc(32, 6));
    expect(loadKek({ env: { BOWLINE_CA_KEK: Buffer.alloc(32, 8).toString('base64') } }).key).toEqual(Buffer.alloc(32, 8));
    expect(() => loadKek({ env: { BOWLINE_CA_KEK: 'short' } })).toThrow(expect.objectContaining({ code: CA_ERRORS.KEK_INVALID }));
    expect(() => loadKek({ kekFile: join(dir, 'missing') })).toThrow(expect.objectContaining({ code: CA_ERRORS.KEK_INVALID }));
    expect(readFileSync(join(dir, 'k')).length).toBe(32);
  });

  it('seals with AES-256-GCM bound to a purpose; another key or purpose cannot open it', () => {
    const k1 = parseKek(Buffer.alloc(32, 1), 'one');
    const k2 = parseKek(Buffer.alloc(32, 2), 'two');
    const box = seal(k1, Buffer.from('secret'), 'ca/root/x');
    expect(open(k1, box, 'ca/root/x').toString()).toBe('secret');
    expect(() => open(k2, box, 'ca/root/x')).toThrow(expect.objectContaining({ code: CA_ERRORS.KEK_MISMATCH, message: expect.stringContaining(k1.id) }));
    expect(() => open(k1, box, 'ca/root/y')).toThrow(expect.objectContaining({ code: CA_ERRORS.KEK_MISMATCH, message: expect.stringContaining('altered') }));
  });
});
