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
 * Idle: V8 shrinks the new space back to its start size (and uncommits the from-space) in a full
 * GC that aims to reduce memory or that follows a phase of low allocation throughput -- the idle
 * GC (idle-gc.ts) is such a GC, sometimes only its second or third (`youngGenerationGivenBack`
 * tells it when it is done).
 *
 * Without a cap on node's command line (node run by hand without bin/bowline's flags) the new
 * space stays held, as before; `--semi-space-growth-factor` or `--min-semi-space-size` on
 * node's command line leave the young generation to node entirely.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** The growth factor of the release: V8 clamps a growth at the cap, so its first growth reaches it (1 MB -> 8 or 16). */
const RELEASE_GROWTH_FACTOR = 16;

/** The new space's committed size when the hold was set (bytes); undefined when node flags chose the young generation. */
let heldSize: number | undefined;

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
  return true;
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
