import { existsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeAfterFile, removeTemps, tempDir } from './temp.js';

describe('tempDir', () => {
  it('makes PREFIX + 6 characters under os.tmpdir(), and removeTemps removes it with its contents and the files registered', () => {
    const dir = tempDir('bowline-temp-test-');
    expect(dirname(dir)).toBe(tmpdir());
    expect(basename(dir)).toMatch(/^bowline-temp-test-[A-Za-z0-9]{6}$/);
    expect(statSync(dir).isDirectory()).toBe(true);
    writeFileSync(join(dir, 'inside'), 'x');
    const file = removeAfterFile(join(tmpdir(), `bowline-temp-test-${process.pid}.json`));
    writeFileSync(file, '{}');
    expect(removeTemps()).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(file)).toBe(false);
  });
});
