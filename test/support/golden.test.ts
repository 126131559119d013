import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectGolden } from './golden.js';
import { tempDir } from './temp.js';

const dir = tempDir('bowline-golden-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('expectGolden', () => {
  it('fails when the golden file is missing, and does not create it', () => {
    const file = join(dir, 'missing.golden.json');
    expect(() => expectGolden(file, '{}\n', {})).toThrow(/golden file .*missing\.golden\.json is missing: run the test with BOWLINE_UPDATE_GOLDEN=1/);
    expect(existsSync(file)).toBe(false);
  });

  it('fails on a difference and passes on equality', () => {
    const file = join(dir, 'x.golden.json');
    writeFileSync(file, '{"a":1}\n');
    expect(() => expectGolden(file, '{"a":2}\n', {})).toThrow(/differs from the golden file/);
    expectGolden(file, '{"a":1}\n', {});
  });

  it('BOWLINE_UPDATE_GOLDEN=1 writes (and rewrites) the file', () => {
    const file = join(dir, 'sub', 'new.golden.json');
    expectGolden(file, 'v1\n', { BOWLINE_UPDATE_GOLDEN: '1' });
    expectGolden(file, 'v2\n', { BOWLINE_UPDATE_GOLDEN: '1' });
    expect(readFileSync(file, 'utf8')).toBe('v2\n');
  });
});
