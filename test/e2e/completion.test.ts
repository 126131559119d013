// `bowline completion bash` in a real bash against a running control plane: the script calls
// `bowline` on PATH and completes commands, kinds and the names of live resources.
import { execFile } from 'node:child_process';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/process.js';
import { TestMesh } from './mesh-harness.js';
import { tempDir } from '../support/temp.js';

const mesh = new TestMesh();
const bin = tempDir('bowline-completion-');

/** COMPREPLY of bash's completion function for the command line `words` (the last word is being typed). */
function bashComplete(words: string[]): Promise<string[]> {
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const script = `source <(bowline completion bash)\nCOMP_WORDS=(${quoted})\nCOMP_CWORD=${words.length - 1}\n_bowline\nprintf '%s\\n' "\${COMPREPLY[@]}"`;
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/bash', ['-c', script], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, BOWLINE_SERVER: mesh.api, BOWLINE_HOME: mesh.home }, timeout: 20_000 }, (err, out) => (err ? reject(err) : resolve(out.split('\n').filter(Boolean))));
  });
}

beforeAll(async () => {
  writeFileSync(join(bin, 'bowline'), `#!/bin/sh\nexec "${process.execPath}" "${repoRoot}bin/bowline" "$@"\n`);
  chmodSync(join(bin, 'bowline'), 0o755);
  await mesh.up();
  const vs = (name: string, ns: string) => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  hosts: [${name}]\n  http:\n  - route:\n    - destination: {host: ${name}}\n`;
  expect((await mesh.apply('vs', `${vs('reviews', 'default')}---\n${vs('ratings', 'default')}---\n${vs('details', 'shop')}`)).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await mesh.down();
});

describe('bowline completion in bash', () => {
  it('commands, kinds, and live resource names (per namespace) and namespaces', async () => {
    expect(await bashComplete(['bowline', 'ex'])).toEqual(['explain']);
    expect(await bashComplete(['bowline', 'get', 'virtuals'])).toEqual(['virtualservice', 'virtualservices']);
    expect((await bashComplete(['bowline', 'get', 'vs', ''])).sort()).toEqual(['ratings', 'reviews']);
    expect(await bashComplete(['bowline', 'get', 'vs', '-n', 'shop', ''])).toEqual(['details']);
    expect(await bashComplete(['bowline', 'get', 'vs', '-n', 's'])).toEqual(['shop']);
    expect(await bashComplete(['bowline', 'analyze', '--al'])).toEqual(['--all-namespaces']);
  }, 60_000);
});
