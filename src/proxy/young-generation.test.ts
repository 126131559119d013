import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Each case runs in a child process: the flag is process-wide and must not leak into the test workers.
const script = (args: string): string => `
  const { holdYoungGeneration } = await import(${JSON.stringify(new URL('./young-generation.ts', import.meta.url).pathname)});
  const applied = holdYoungGeneration(${args});
  let keep = [];
  for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 2000) keep = []; }
  const v8 = await import('node:v8');
  const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  console.log(JSON.stringify({ applied, newSpaceMb: ns.space_size / 1048576 }));`;

function run(args: string, nodeArgs: string[] = []): { applied: boolean; newSpaceMb: number } {
  const r = spawnSync(process.execPath, [...nodeArgs, '--import', 'tsx', '--input-type=module', '-e', script(args)], { encoding: 'utf8', timeout: 30_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { applied: boolean; newSpaceMb: number };
}

describe('holdYoungGeneration', () => {
  it('keeps the new space at its start-up size under allocation pressure', () => {
    const held = run('');
    expect(held.applied).toBe(true);
    expect(held.newSpaceMb).toBeLessThanOrEqual(4);
  });

  it('leaves the size to node flags when the user chose one', () => {
    expect(run('[\'--max-semi-space-size=8\'], \'\'').applied).toBe(false);
    expect(run('[], \'--max-semi-space-size=8\'').applied).toBe(false);
  });
});
