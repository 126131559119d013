import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PROXY_NODE_FLAGS, proxyArgv } from './node-flags.js';

describe('PROXY_NODE_FLAGS', () => {
  it('are the flags of bin/bowline\'s shebang, so a proxy run as an executable runs like one a launcher starts', () => {
    const first = readFileSync(fileURLToPath(new URL('../../bin/bowline', import.meta.url)), 'utf8').split('\n')[0];
    expect(first).toBe(`#!/usr/bin/env -S node ${PROXY_NODE_FLAGS.join(' ')}`);
    expect(PROXY_NODE_FLAGS).toContain('--single-threaded-gc');
    expect(PROXY_NODE_FLAGS).toContain('--v8-pool-size=1');
    expect(PROXY_NODE_FLAGS).toContain('--max-semi-space-size=4');
    expect(PROXY_NODE_FLAGS).toContain('--no-sparkplug');
    expect(proxyArgv('/b', ['proxy', '--config', 'f'])).toEqual([...PROXY_NODE_FLAGS, '/b', 'proxy', '--config', 'f']);
  });
});
