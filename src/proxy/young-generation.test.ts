import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Each case runs in a child process: the flag is process-wide and must not leak into the test workers.
const script = (args: string, release: boolean): string => `
  const { holdYoungGeneration, releaseYoungGeneration, youngGenerationGivenBack } = await import(${JSON.stringify(new URL('./young-generation.ts', import.meta.url).pathname)});
  const applied = holdYoungGeneration(${args});
  const released = ${release ? 'releaseYoungGeneration()' : 'false'};
  let keep = [];
  for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 2000) keep = []; }
  const v8 = await import('node:v8');
  const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  console.log(JSON.stringify({ applied, released, newSpaceMb: ns.space_size / 1048576, givenBack: youngGenerationGivenBack() }));`;

interface Run { applied: boolean; released: boolean; newSpaceMb: number; givenBack: boolean }
function run(args: string, nodeArgs: string[] = [], release = false): Run {
  const r = spawnSync(process.execPath, [...nodeArgs, '--import', 'tsx', '--input-type=module', '-e', script(args, release)], { encoding: 'utf8', timeout: 30_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Run;
}

describe('holdYoungGeneration', () => {
  it('keeps the new space at its start-up size under allocation pressure', () => {
    const held = run('');
    expect(held.applied).toBe(true);
    expect(held.newSpaceMb).toBeLessThanOrEqual(4);
  });

  it('holds through start-up with a cap too, and leaves the young generation to node flags that choose its growth', () => {
    expect(run('[\'--max-semi-space-size=8\'], \'\'').applied).toBe(true);
    expect(run('[\'--semi-space-growth-factor=2\'], \'\'').applied).toBe(false);
    expect(run('[], \'--min-semi-space-size=4\'').applied).toBe(false);
  });
});

describe('releaseYoungGeneration', () => {
  it('lets the held new space grow to the cap node was given once released', () => {
    const grown = run('', ['--max-semi-space-size=8'], true);
    expect(grown.released).toBe(true);
    expect(grown.newSpaceMb).toBeGreaterThan(8); // two 8 MB semi-spaces
    expect(grown.newSpaceMb).toBeLessThanOrEqual(17);
    expect(grown.givenBack).toBe(false);
  });

  it('keeps it held without a cap on node\'s command line', () => {
    const held = run('', [], true);
    expect(held.released).toBe(false);
    expect(held.newSpaceMb).toBeLessThanOrEqual(4);
  });
});
