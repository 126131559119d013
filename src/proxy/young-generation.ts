/**
 * The proxy process's V8 young generation, held at the size start-up left it. Under load V8
 * doubles the new space (up to 2 x 16 MB) whenever enough bytes survived scavenges, and shrinks
 * it again only after a full GC in a quiet moment, so a proxy's RSS after a load test landed
 * anywhere between ~58 and ~72 MB from run to run with a live heap of ~10 MB. Held, RSS stays
 * near 58 MB. The price, measured (h2load --h1, 50k requests, 32 connections, three runs each):
 * scavenges cost 1.4-2.4 us per request instead of 0.6-1.3 (CPU 36-42 vs 32-41 us/req) at
 * saturation; at 1000 rps nothing measurable. `semi-space-growth-factor` is read each time V8
 * grows the new space, so it works when set at run time (`max-semi-space-size` would not).
 */
import { setFlagsFromString } from 'node:v8';

/** Stops young-generation growth unless node flags chose its size (`--max-semi-space-size` etc.: theirs win). Returns whether it applied. */
export function holdYoungGeneration(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  const chosen = (s: string): boolean => /semi[-_]space/.test(s);
  if (execArgv.some(chosen) || chosen(nodeOptions)) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
