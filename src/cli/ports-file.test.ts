import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPortsFile, writePortsFile } from './ports-file.js';
import { tempDir } from '../../test/support/temp.js';

const dir = tempDir('bowline-ports-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ports file', () => {
  it('round-trips, leaves no temporary file, and answers undefined until every key is there', () => {
    const f = join(dir, 'p.json');
    expect(readPortsFile(f)).toBeUndefined();
    writePortsFile(f, { api: 15014 });
    expect(readPortsFile(f, ['api'])).toEqual({ api: 15014 });
    expect(readPortsFile(f, ['api', 'push'])).toBeUndefined();
    expect(writePortsFile(f, { api: 1, push: 2 })).toBe('{"api":1,"push":2}\n');
    expect(readPortsFile(f, ['api', 'push'])).toEqual({ api: 1, push: 2 });
    expect(readdirSync(dir)).toEqual(['p.json']);
  });

  it('a half-written or foreign file reads as not ready', () => {
    const f = join(dir, 'half.json');
    writeFileSync(f, '{"admin":');
    expect(existsSync(f)).toBe(true);
    expect(readPortsFile(f, ['admin'])).toBeUndefined();
  });
});
