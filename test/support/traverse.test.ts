import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openTraversal } from './traverse.js';
import { tempDir } from './temp.js';

const root = tempDir('bowline-traverse-');
afterAll(() => { chmodSync(root, 0o700); rmSync(root, { recursive: true, force: true }); });
const mode = (p: string) => statSync(p).mode & 0o7777;

describe('openTraversal', () => {
  it('adds o+x to the path and its ancestors that lack it, and restores their modes', () => {
    const a = join(root, 'a');
    const b = join(a, 'b');
    mkdirSync(b, { recursive: true });
    chmodSync(root, 0o700);
    chmodSync(a, 0o750);
    chmodSync(b, 0o711);
    const restore = openTraversal(b);
    expect([mode(root), mode(a), mode(b)]).toEqual([0o701, 0o751, 0o711]);
    restore();
    expect([mode(root), mode(a), mode(b)]).toEqual([0o700, 0o750, 0o711]);
    restore(); // a second call changes nothing
    expect([mode(root), mode(a)]).toEqual([0o700, 0o750]);
  });
});
