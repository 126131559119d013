/**
 * Gives the heap's garbage back when the proxy goes quiet. Under load, objects of requests in
 * flight survive the (small, held: young-generation.ts) young generation and are promoted; V8
 * collects the old generation only when it has grown ~8 MB past what was live after the last full
 * GC, and its memory reducer -- the full GC V8 runs when an isolate goes idle -- arms itself only
 * after the old generation grew by 10 MB since it last ran, which a 10-15 MB proxy heap never
 * does after start-up. A proxy that stops serving therefore kept 5-8 MB of dead requests resident
 * until its next burst (docs/performance.md, Memory). One full GC when a busy period ends does
 * what the memory reducer would: it runs only after requests stopped for a whole interval, once
 * per busy period, never while traffic flows.
 *
 * The same GC gives back the young generation grown under load (young-generation.ts): V8 shrinks
 * the new space to its start size, and uncommits the semi-space not in use, in a full GC that
 * follows a phase of low allocation throughput (under 1 KB/ms over its recent samples, which are
 * taken at GCs: the first GC after the load often still sees the load), and the pages the shrunk
 * space keeps are the load's, all resident, until a later such GC moves into fresh ones. So while
 * the young generation is not given back, the GC is repeated (after two scavenges) at the next
 * quiet interval, at most MAX_IDLE_GCS full GCs per quiet period (a function not run for ~5 full
 * GCs loses its bytecode, so the bound stays below that).
 *
 * The GC is a plain (non-compacting) one, ~6 ms of the main thread for a proxy's ~7 MB heap; it
 * compacts (~15-28 ms) only when the old generation holds more than COMPACT_SLACK_BYTES of committed
 * pages that no live object uses (`needsCompaction`). Until session 20 every idle GC compacted: two
 * or three such bursts per proxy after a busy period, taken from whatever else the host was serving
 * (the bench's other targets, a node's other sidecars), for ~1.1 MB of RSS over a plain GC's -- the
 * rest of what goes back is the young generation, which any full GC at low allocation throughput
 * gives back (docs/performance.md, "The hop's slowest 1 %, taken apart").
 */
import { getHeapSpaceStatistics, setFlagsFromString, type HeapSpaceInfo } from 'node:v8';
import { youngGenerationGivenBack } from './young-generation.js';

/** How often activity is sampled (a GC follows 1-2 intervals after the last request). */
export const IDLE_GC_INTERVAL_MS = 5_000;

/** Full GCs per quiet period at most (one per interval, while the young generation is not given back). */
export const MAX_IDLE_GCS = 3;

/** Decides when a busy period has ended: `tick` is called every interval with the count of requests and connections so far. */
export class IdleCollector {
  private last = -1;
  private busy = false;
  private collections = 0;
  /** No activity since the first sample: the quiet period is the one after start-up, before any traffic. */
  private startup = true;

  /**
   * `collect(nth, startup)` (nth 1 for the first of a quiet period; startup: no traffic since start-up yet) returns false
   * when it could not give everything back (the young generation): it runs again at the next quiet tick, up to
   * MAX_IDLE_GCS times.
   */
  constructor(private readonly activity: () => number, private readonly collect: (nth: number, startup: boolean) => boolean | void) {}

  /** Samples activity; collects once when an interval without any follows one with some (again at the next ones while `collect` says so). True when it collected. */
  tick(): boolean {
    const n = this.activity();
    if (n !== this.last) {
      // The first sample (start-up, the config's compilation) counts as busy too.
      if (this.last !== -1) this.startup = false;
      this.last = n;
      this.busy = true;
      this.collections = 0;
      return false;
    }
    if (!this.busy) return false;
    this.collections++;
    this.busy = this.collect(this.collections, this.startup) === false && this.collections < MAX_IDLE_GCS;
    return true;
  }
}

/** A synchronous GC: full, or with `true` a scavenge (node's `gc` under `--expose-gc`, or fullGc()'s). */
export type GcExtension = (minor?: boolean) => void;

/**
 * A full, synchronous GC: node's `gc` when node runs with `--expose-gc`, else V8's runtime functions
 * `%CollectGarbage` (a full GC) and `%SimulateNewspaceFull` (a scavenge), compiled and run with
 * `--allow-natives-syntax` on only for each call: V8 parses a function's body when it first runs it,
 * or again after flushing its bytecode, so the flag is on whenever it may have to. Until session 10
 * the gc extension was taken from a new vm context instead: holding its `gc` kept that second
 * native context alive, ~0.33 MB of heap (0.25 MB resident) for the life of the proxy.
 */
export function fullGc(): GcExtension {
  const own = (globalThis as { gc?: GcExtension }).gc;
  if (typeof own === 'function') return own;
  const natives = <T>(f: () => T): T => {
    setFlagsFromString('--allow-natives-syntax');
    try {
      return f();
    } finally {
      setFlagsFromString('--no-allow-natives-syntax');
    }
  };
  // V8 runtime calls parse only with the flag on: never in a module's source, which is parsed without it.
  const [major, minor] = natives(() => [new Function('%CollectGarbage(0)'), new Function('%SimulateNewspaceFull()')] as Array<() => void>);
  return (scavenge) => natives(scavenge === true ? minor! : major!);
}

/**
 * Collects and compacts: V8 moves the survivors out of fragmented pages only when it aims to reduce
 * memory (its memory reducer) or with `--compact-on-every-full-gc`, so the flag is on for this one
 * GC (unless node was started with it). Without compaction the GC frees the dead objects but most
 * of their pages stay committed (measured in session 9's build: 59-61 MB after the bench's load and
 * idle time instead of 56.3-56.6; in session 20's, where the young generation is held and given back
 * on its own, 53.4 against 52.3, so the idle GC compacts only when `needsCompaction` says it pays).
 */
export function compactingGc(gc: () => void, execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): () => void {
  const chosen = (s: string): boolean => /compact[-_]on[-_]every[-_]full[-_]gc/.test(s);
  if (execArgv.some(chosen) || chosen(nodeOptions)) return gc;
  return () => {
    setFlagsFromString('--compact-on-every-full-gc');
    try {
      gc();
    } finally {
      setFlagsFromString('--no-compact-on-every-full-gc');
    }
  };
}

/** Committed old-generation bytes without live objects, after a GC, above which the idle GC compacts (measured slack: ~0.25 MB after the bench's loads). */
export const COMPACT_SLACK_BYTES = 1 << 20;

/** The spaces whose pages a compacting GC can empty and give back (the young generation is given back without one). */
const COMPACTABLE = new Set(['old_space', 'code_space', 'map_space']);

/**
 * Whether the heap, right after a full GC, has enough committed old-generation pages holding no live objects
 * (fragmentation: free space spread over pages in use) that a compacting GC would give back more than
 * COMPACT_SLACK_BYTES.
 */
export function needsCompaction(spaces: readonly Pick<HeapSpaceInfo, 'space_name' | 'physical_space_size' | 'space_used_size'>[] = getHeapSpaceStatistics()): boolean {
  let slack = 0;
  for (const s of spaces) if (COMPACTABLE.has(s.space_name)) slack += Math.max(0, s.physical_space_size - s.space_used_size);
  return slack > COMPACT_SLACK_BYTES;
}

/** V8's --bytecode-old-age (Node 20, V8 11.3): full GCs a function's bytecode survives unrun before it is flushed. */
const BYTECODE_OLD_AGE = 5;

/**
 * Flushes the bytecode of the functions start-up ran (module bodies, the CLI, the config's parsing, validation and
 * compilation), run in the quiet period after start-up, before any traffic: V8 flushes bytecode that full GCs
 * found unrun BYTECODE_OLD_AGE times in a row, which a proxy that only GCs when idle reaches late or never; for
 * these two GCs the age is 1. The request path has not run yet, so nothing it needs is lost: code start-up and
 * requests share is compiled again on its first use. Not when node was given `--bytecode-old-age` or
 * `--no-flush-bytecode` (theirs win).
 */
export function flushStartupCode(major: () => void, execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  const chosen = (s: string): boolean => /(^|\s)--(bytecode[-_]old[-_]age|(no[-_])?flush[-_]bytecode)\b/.test(s);
  if (execArgv.some(chosen) || chosen(nodeOptions)) return false;
  setFlagsFromString('--bytecode-old-age=1');
  try {
    major();
    major();
  } finally {
    setFlagsFromString(`--bytecode-old-age=${BYTECODE_OLD_AGE}`);
  }
  return true;
}

/** Starts sampling `activity` every `intervalMs` (the timer never keeps the process alive); returns the stop function. */
export function collectWhenIdle(activity: () => number, intervalMs = IDLE_GC_INTERVAL_MS): () => void {
  let gc: GcExtension | undefined;
  let compacting: (() => void) | undefined;
  const c = new IdleCollector(activity, (nth, startup) => {
    gc ??= fullGc();
    compacting ??= compactingGc(gc);
    if (startup && nth === 1) flushStartupCode(compacting);
    // A repeat starts with two scavenges (`gc(true)`; ~0.2 ms, and
    // unlike a full GC they do not age bytecode): the full GC after them moves the survivors into
    // fresh pages and uncommits the load's (measured in a standalone node: F, SSF gives back what
    // F, F, F, F does).
    if (nth > 1) { gc(true); gc(true); }
    gc();
    if (needsCompaction()) compacting();
    return youngGenerationGivenBack();
  });
  const timer = setInterval(() => c.tick(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
