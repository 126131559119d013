/**
 * The proxy process's V8 young generation: small while the proxy starts and idles, grown to the
 * cap node was given (`--max-semi-space-size`, PROXY_NODE_FLAGS) once it serves, given back when
 * it goes quiet (idle-gc.ts).
 *
 * Start-up: V8 doubles the new space whenever enough bytes survived scavenges since it last grew,
 * and loading the proxy's modules is such a phase of high survival: unheld it reached the cap
 * before the first request (16 MB semi-spaces by default: RSS after the bench's load 76-86 MB
 * until session 6). `bowline proxy` therefore holds it (`--semi-space-growth-factor=1`: V8 reads
 * the factor each time it would grow, so it works when set at run time, which
 * `--max-semi-space-size` would not) before it imports the proxy (src/cli/commands/proxy.ts),
 * where it is ~1 MB.
 *
 * Serving: held at ~1 MB a proxy scavenges ~7 times a second at 1000 rps (5.7 KB allocated per
 * request), and each scavenge is an event-loop stall of 0.2-0.8 ms; a sidecar pair then puts a
 * stall in front of ~1 % of requests, suspected to be its added p99 (docs/performance.md, Memory). 5 s after
 * start-up began serving (proxy/sidecar.ts; released right away, the rest of start-up -- the
 * first config's compilation, lazy modules -- grew it before the first request) the hold is
 * released toward the cap: the growth factor is set so that V8's next growth (after ~1 MB has
 * survived scavenges: a second or two of traffic) goes straight to the cap, and a loaded proxy
 * scavenges ~2 times a second at the default 4 MB (~1 at 8 MB).
 *
 * What the release alone does not do: V8 grows the new space only once more bytes have survived
 * scavenges since its last growth than the space holds, and a proxy at moderate rates has almost no
 * survivors (a request's objects are dead by the next scavenge). Measured in session 19 (a sidecar
 * pair at 1000 rps, `--trace-gc`): the young generation never left ~1 MB -- at start-up, or after
 * the idle GC had given it back -- a scavenge every ~165 requests in each proxy, 0.1-0.6 ms each,
 * for as long as the load lasted. So growth is made to happen (`growWhenLoaded`): LOAD_SCAVENGES
 * scavenges each less than LOAD_SCAVENGE_GAP_MS after the last say the proxy allocates at a load's
 * rate, and `growYoungGeneration` then has V8 see enough survivors: small arrays a little larger
 * than a semi-space, kept across one scavenge and dropped after it (they die in the to-space; nothing
 * is promoted but what overflows it). After a quiet period V8 also refuses to grow while its
 * allocation throughput still averages in the quiet; empty scavenges replace those samples first.
 * A stall of 1-3 ms once per busy period, instead of five or six scavenges a second.
 *
 * Idle: V8 shrinks the new space back to its start size (and uncommits the from-space) in a full
 * GC that aims to reduce memory or that follows a phase of low allocation throughput -- the idle
 * GC (idle-gc.ts) is such a GC, sometimes only its second or third (`youngGenerationGivenBack`
 * tells it when it is done).
 *
 * Without a cap on node's command line (node run by hand without bin/bowline's flags) the new
 * space stays held, as before; `--semi-space-growth-factor` or `--min-semi-space-size` on
 * node's command line leave the young generation to node entirely.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** The growth factor of the release: V8 clamps a growth at the cap, so its first growth reaches it (1 MB -> 8 or 16). */
const RELEASE_GROWTH_FACTOR = 16;

/** The new space's committed size when the hold was set (bytes); undefined when node flags chose the young generation. */
let heldSize: number | undefined;

/** releaseYoungGeneration has set the growth factor toward the cap. */
let released = false;

function newSpace(): { space_size: number; physical_space_size: number } {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space') ?? { space_size: 0, physical_space_size: 0 };
}

const given = (flag: RegExp, execArgv: readonly string[], nodeOptions: string): boolean => execArgv.some((s) => flag.test(s)) || flag.test(nodeOptions);

/** Stops young-generation growth unless node flags chose its growth (`--semi-space-growth-factor`, `--min-semi-space-size`: theirs win). Returns whether it applied. */
export function holdYoungGeneration(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  if (given(/semi[-_]space[-_]growth|min[-_]semi[-_]space/, execArgv, nodeOptions)) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  heldSize ??= newSpace().space_size;
  return true;
}

/**
 * After start-up: lets the held young generation grow, in one step, to the cap node was given
 * (`--max-semi-space-size`). No cap, or no hold: nothing changes. Returns whether it applied.
 */
export function releaseYoungGeneration(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  if (heldSize === undefined || !given(/max[-_]semi[-_]space[-_]size/, execArgv, nodeOptions)) return false;
  setFlagsFromString(`--semi-space-growth-factor=${RELEASE_GROWTH_FACTOR}`);
  released = true;
  return true;
}

/** Scavenges closer than this (ms) to the one before say the proxy allocates at a load's rate: ~1 MB/s or more at the held size, ~200 requests a second. */
export const LOAD_SCAVENGE_GAP_MS = 1000;

/** Scavenges in a row, each within LOAD_SCAVENGE_GAP_MS of the last, before the young generation is grown (~0.5 s at 1000 requests a second). */
export const LOAD_SCAVENGES = 3;

/**
 * GCs whose allocation samples V8 averages when it decides to grow or shrink the new space: it refuses to grow while
 * that throughput reads under 1 KB/ms (`Heap::ShouldResizeNewSpace`), and after a quiet period one sample spans the
 * whole quiet. growYoungGeneration, declined, runs this many empty scavenges (~0.05 ms each) to replace the samples.
 */
const THROUGHPUT_SAMPLES = 10;

/** Growths tried per watch (one more after each LOAD_SCAVENGES scavenges that did not grow it). */
const GROW_TRIES = 3;

/** Elements of one ballast array (16 KB): objects a scavenge copies, small enough never to be large objects. */
const BALLAST_ARRAY_LENGTH = 2048;

/** What growYoungGeneration keeps alive across its scavenge (module state: nothing can find it dead early). */
let ballast: number[][] | undefined;

/**
 * Grows the released young generation to its cap now: survivors a little larger than a semi-space,
 * kept across one scavenge (`scavenge`: idle-gc.ts fullGc's, which may only mark the new space full;
 * the allocation after it runs the scavenge), then dropped; a second scavenge, at whose start V8
 * grows the space, frees them (~1-2 ms for both). True when the new space is now larger than held;
 * false when there was nothing to grow (not held: node flags chose; not released; already larger) or
 * V8 declined even after THROUGHPUT_SAMPLES empty scavenges.
 */
export function growYoungGeneration(scavenge: () => void): boolean {
  if (heldSize === undefined || !released) return false;
  const before = newSpace().space_size;
  if (before > heldSize) return false;
  if (survive(scavenge, Math.max(before, heldSize))) return true;
  // Declined: V8's allocation throughput still counts a quiet period. Empty scavenges replace its samples (the GC
  // extension's marks the new space full, which V8 counts as allocated), then the survivors once more.
  for (let i = 0; i < THROUGHPUT_SAMPLES; i++) { scavenge(); newSpace(); }
  return survive(scavenge, Math.max(before, heldSize));
}

/**
 * Survivors of 0.6 x `size` (the held size counts both semi-spaces: 1.2 semi-spaces) kept across one scavenge, then a
 * second scavenge, at whose start V8 grows the space on what survived the one before; true when it is now past the
 * held size (not `before`: a given-back new space commits its second semi-space again at the next scavenge).
 */
function survive(scavenge: () => void, size: number): boolean {
  const arrays = Math.ceil((size * 0.6) / (8 * BALLAST_ARRAY_LENGTH));
  ballast = [];
  for (let i = 0; i < arrays; i++) ballast.push(new Array<number>(BALLAST_ARRAY_LENGTH).fill(0));
  scavenge();
  ballast.push([0]);
  ballast = undefined;
  scavenge();
  // newSpace() allocates before it reads: the second scavenge runs there.
  return newSpace().space_size > heldSize!;
}

let watcher: PerformanceObserver | undefined;

/**
 * Once LOAD_SCAVENGES scavenges have come each less than LOAD_SCAVENGE_GAP_MS after the last, grows the young
 * generation (growYoungGeneration) and stops watching. Armed after the release and again after each idle GC; a quiet proxy runs no scavenges, so the watch costs nothing until load comes. Returns
 * the function that stops it.
 */
export function growWhenLoaded(scavenge: () => void, o: { gapMs?: number; scavenges?: number } = {}): () => void {
  if (heldSize === undefined || !released) return stopWatching;
  stopWatching();
  const gapMs = o.gapMs ?? LOAD_SCAVENGE_GAP_MS;
  const needed = o.scavenges ?? LOAD_SCAVENGES;
  let last = -Infinity;
  let inRow = 0;
  let tries = 0;
  const w = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MINOR) continue;
      inRow = e.startTime - last < gapMs ? inRow + 1 : 1;
      last = e.startTime;
      if (inRow < needed) continue;
      inRow = 0;
      tries++;
      // Grown by V8 itself meanwhile, or by this, or tried enough: done until the next give-back re-arms.
      if (newSpace().space_size > heldSize! || growYoungGeneration(scavenge) || tries >= GROW_TRIES) { stopWatching(); return; }
    }
  });
  w.observe({ entryTypes: ['gc'] });
  watcher = w;
  return stopWatching;
}

function stopWatching(): void {
  watcher?.disconnect();
  watcher = undefined;
}

/**
 * Whether the new space is back at its held start-up size with its pages given back to the system
 * (true when it was never held: nothing to give back). Committed at the held size is not enough:
 * the full GC that shrinks it keeps the first pages of the semi-space the load used, all resident
 * (+0.5 MB RSS against a never-grown proxy); a later full GC at low allocation throughput moves the
 * survivors into fresh pages and uncommits those.
 */
export function youngGenerationGivenBack(): boolean {
  if (heldSize === undefined) return true;
  const s = newSpace();
  // Right after a GC the space in use holds only its survivors: resident, a fresh one is mostly untouched.
  return s.space_size <= heldSize && s.physical_space_size * 2 <= s.space_size;
}
