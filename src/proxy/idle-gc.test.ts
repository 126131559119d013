import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { COMPACT_SLACK_BYTES, compactingGc, IdleCollector, MAX_IDLE_GCS, needsCompaction } from './idle-gc.js';

describe('IdleCollector', () => {
  it('collects once when a quiet interval follows a busy one, never while traffic flows', () => {
    let requests = 0;
    let collected = 0;
    const c = new IdleCollector(() => requests, () => { collected++; });
    const ticks: boolean[] = [];
    c.tick(); // start-up
    ticks.push(c.tick()); // quiet after start-up: collect
    ticks.push(c.tick()); // still quiet: nothing more
    for (let i = 0; i < 3; i++) { requests += 100; ticks.push(c.tick()); } // serving
    ticks.push(c.tick()); // stopped: collect
    ticks.push(c.tick(), c.tick());
    expect(ticks).toEqual([true, false, false, false, false, true, false, false]);
    expect(collected).toBe(2);
  });

  it('collects again at the next quiet ticks while a collection could not give everything back, at most MAX_IDLE_GCS times', () => {
    let requests = 0;
    const results = [false, true, false, false, false, false];
    let collected = 0;
    const nths: number[] = [];
    const c = new IdleCollector(() => requests, (nth) => { nths.push(nth); return results[collected++]!; });
    c.tick(); // start-up
    const ticks = [c.tick(), c.tick(), c.tick()]; // quiet: not given back, given back, nothing more
    requests += 10;
    ticks.push(c.tick(), c.tick(), c.tick(), c.tick(), c.tick()); // serving; quiet: never given back -> three collections, no fourth
    expect(ticks).toEqual([true, true, false, false, true, true, true, false]);
    expect(collected).toBe(2 + MAX_IDLE_GCS);
    expect(nths).toEqual([1, 2, 1, 2, 3]);
  });

  it('tells the collection whether the quiet period is the one after start-up, before any traffic', () => {
    let requests = 0;
    const seen: Array<[number, boolean]> = [];
    const c = new IdleCollector(() => requests, (nth, startup) => { seen.push([nth, startup]); });
    c.tick(); // start-up
    c.tick(); // quiet: start-up's
    requests++;
    c.tick(); // serving
    c.tick(); // quiet again: not start-up's
    expect(seen).toEqual([[1, true], [1, false]]);
  });

  it('a proxy that serves before its first quiet interval never gets a start-up collection', () => {
    let requests = 0;
    const seen: boolean[] = [];
    const c = new IdleCollector(() => requests, (_nth, startup) => { seen.push(startup); });
    c.tick();
    requests++;
    c.tick();
    c.tick();
    expect(seen).toEqual([false]);
  });
});

describe('flushStartupCode', () => {
  // In a child process: the flags are process-wide. Bytecode of a function run once (start-up) is flushed, that of a
  // function run after the flush survives the GCs after it (the flushing age is back at V8's).
  it('flushes the bytecode start-up ran, and later GCs flush at V8\'s own age again', () => {
    const script = `
      const { compactingGc, flushStartupCode, fullGc } = await import(${JSON.stringify(new URL('./idle-gc.ts', import.meta.url).pathname)});
      const v8 = await import('node:v8');
      const bytecode = () => v8.getHeapCodeStatistics().bytecode_and_metadata_size;
      const big = (name) => new Function('x', Array.from({ length: 3000 }, (_, i) => 'x.v' + i + ' = x.v' + i + ' + ' + i + ';').join('\\n') + ' return x;');
      const startup = big();
      startup({});
      const major = compactingGc(fullGc());
      major();
      const before = bytecode();
      const flushed = flushStartupCode(major);
      const afterFlush = bytecode();
      const serving = big();
      serving({});
      const withServing = bytecode();
      major(); major();
      console.log(JSON.stringify({ flushed, before, afterFlush, withServing, later: bytecode(), chosen: flushStartupCode(major, ['--bytecode-old-age=3'], '') }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { flushed: boolean; before: number; afterFlush: number; withServing: number; later: number; chosen: boolean };
    expect(out.flushed).toBe(true);
    expect(out.before - out.afterFlush).toBeGreaterThan(30_000); // the start-up function's bytecode (~60 KB) went
    expect(out.withServing - out.afterFlush).toBeGreaterThan(30_000);
    expect(out.later).toBeGreaterThan(out.withServing - 10_000); // still there two GCs later
    expect(out.chosen).toBe(false);
  });
});

describe('compactingGc(fullGc())', () => {
  // In a child process: the gc flags are process-wide and must not leak into the test workers.
  it('gives back the pages a plain full GC leaves committed, without a gc global in the main context', () => {
    const script = `
      const { compactingGc, fullGc } = await import(${JSON.stringify(new URL('./idle-gc.ts', import.meta.url).pathname)});
      const v8 = await import('node:v8');
      const old = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').space_size;
      let keep = [];
      for (let i = 0; i < 4e5; i++) keep.push({ i, s: 'x' + i });
      keep = keep.filter((_, i) => i % 50 === 0); // a few survivors on every page
      const gc = fullGc();
      gc();
      const plain = old();
      compactingGc(gc)();
      console.log(JSON.stringify({ plain, compacted: old(), kept: keep.length, global: typeof globalThis.gc }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { plain: number; compacted: number; kept: number; global: string };
    expect(out.global).toBe('undefined');
    expect(out.kept).toBe(8000);
    expect(out.compacted).toBeLessThan(out.plain / 2);
  });

  it('leaves compaction to node flags when the user chose them', () => {
    const gc = (): void => {};
    expect(compactingGc(gc, ['--compact-on-every-full-gc'], '')).toBe(gc);
    expect(compactingGc(gc, [], '--compact_on_every_full_gc')).toBe(gc);
    expect(compactingGc(gc, [], '')).not.toBe(gc);
  });
});

describe('needsCompaction', () => {
  const space = (space_name: string, physical: number, used: number) => ({ space_name, physical_space_size: physical, space_used_size: used });
  it('compacts only when the old generation holds more than COMPACT_SLACK_BYTES of committed pages without live objects', () => {
    const MB = 1 << 20;
    // After a 1000 rps round in the bench: ~0.25 MB of slack, and a young generation still grown (not the compactor's to give back).
    expect(needsCompaction([space('new_space', 8 * MB, 1 * MB), space('old_space', 6.6 * MB, 6.35 * MB), space('code_space', 0.5 * MB, 0.47 * MB)])).toBe(false);
    // Fragmented: the old space's free space spread over 2 MB of pages in use.
    expect(needsCompaction([space('old_space', 9 * MB, 7 * MB), space('code_space', 0.5 * MB, 0.47 * MB)])).toBe(true);
    // The spaces add up: code and old space together past the bound.
    expect(needsCompaction([space('old_space', COMPACT_SLACK_BYTES * 0.6 + MB, MB), space('code_space', COMPACT_SLACK_BYTES * 0.6 + MB, MB)])).toBe(true);
    expect(needsCompaction([space('large_object_space', 20 * MB, 1 * MB)])).toBe(false);
  });

  // In a child process (the gc flags are process-wide): a heap whose survivors are spread thin over its pages needs
  // compaction after a plain GC, and no longer after compactingGc.
  it('reads the heap: true for survivors spread over old pages, false once they are compacted', () => {
    const script = `
      const { compactingGc, fullGc, needsCompaction } = await import(${JSON.stringify(new URL('./idle-gc.ts', import.meta.url).pathname)});
      const gc = fullGc();
      let all = [];
      for (let i = 0; i < 300000; i++) all.push({ i, s: 'x' + i });
      gc(); gc();
      const kept = all.filter((_, i) => i % 16 === 0);
      all = null;
      gc();
      const before = needsCompaction();
      compactingGc(gc)();
      console.log(JSON.stringify({ before, after: needsCompaction(), kept: kept.length }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { before: boolean; after: boolean; kept: number };
    expect(out).toEqual({ before: true, after: false, kept: 18750 });
  });
});
