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

// Load without survivors (a request's objects are dead by the next scavenge): V8 alone never grows the new space, since
// it grows only after more bytes survived than the space holds. The cases below run the proxy's flags in a child process.
const growScript = (body: string): string => `
  const { holdYoungGeneration, releaseYoungGeneration, growYoungGeneration, growWhenLoaded } = await import(${JSON.stringify(new URL('./young-generation.ts', import.meta.url).pathname)});
  const { fullGc } = await import(${JSON.stringify(new URL('./idle-gc.ts', import.meta.url).pathname)});
  const v8 = await import('node:v8');
  const mb = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
  // Objects that escape into a small ring (so the optimiser cannot elide them) and die 64 allocations later.
  const ring = new Array(64);
  const churn = (n) => { for (let i = 0; i < n; i++) ring[i & 63] = { i, a: [i, i + 1] }; return ring.length; };
  const gc = fullGc();
  const scavenge = () => gc(true);
  holdYoungGeneration();
  // The end of a proxy's start-up: what start-up left surviving is counted while held (V8 resets its count when it
  // would have grown), and then nothing survives: the state the proxy serves in.
  let startup = [];
  for (let i = 0; i < 256; i++) startup.push(new Array(2048).fill(i));
  scavenge(); startup.push([0]); startup = undefined;
  for (let i = 0; i < 3; i++) { scavenge(); churn(10); }
  const out = {};
  ${body}
  console.log(JSON.stringify(out));`;

function runGrow(body: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--single-threaded-gc', '--max-semi-space-size=4', '--import', 'tsx', '--input-type=module', '-e', growScript(body)], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe('growYoungGeneration', () => {
  it('grows a released young generation that load without survivors left at its held size to the cap, in one scavenge', () => {
    const r = runGrow(`
      out.released = releaseYoungGeneration();
      churn(3e6);
      out.afterLoad = mb();
      out.held = mb() <= 4;
      out.grown = growYoungGeneration(scavenge);
      out.afterGrow = mb();
      out.again = growYoungGeneration(scavenge);`);
    expect(r.released).toBe(true);
    expect(r.afterLoad).toBeLessThanOrEqual(4); // as held: two semi-spaces of at most 2 MB
    expect(r.grown).toBe(true);
    expect(r.afterGrow).toBeGreaterThanOrEqual(8); // two 4 MB semi-spaces
    expect(r.again).toBe(false); // already grown
  });

  it('does nothing before the release (the held young generation stays held)', () => {
    const r = runGrow(`
      churn(1e6);
      out.grown = growYoungGeneration(scavenge);
      out.after = mb();`);
    expect(r.grown).toBe(false);
    expect(r.after).toBeLessThanOrEqual(4);
  });
});

describe('growWhenLoaded', () => {
  // Turns of the event loop between chunks of allocation: the observer's GC entries arrive between them.
  const load = (watch: string): string => `
    releaseYoungGeneration();
    const stop = growWhenLoaded(scavenge${watch});
    for (let k = 0; k < 40; k++) { churn(5e4); await new Promise((r) => setImmediate(r)); }
    out.after = mb();
    stop();`;

  it('grows the young generation once scavenges follow each other at a load\'s rate', () => {
    expect(runGrow(load('')).after).toBeGreaterThanOrEqual(8);
  });

  it('leaves it held while scavenges are further apart than the gap (here: any gap)', () => {
    expect(runGrow(load(', { gapMs: 0 }')).after).toBeLessThanOrEqual(4);
  });
});
