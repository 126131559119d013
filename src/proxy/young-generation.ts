/**
 * The proxy process's V8 young generation, held at the size it has when the hold is set. Under
 * load V8 doubles the new space (up to 2 x 16 MB) whenever enough bytes survived scavenges, and
 * shrinks it again only after a full GC in a quiet moment. Loading the proxy's modules is such a
 * moment of high survival: held only after start-up (as until session 6), the new space was
 * already 16 MB and RSS after the bench's load 76-86 MB; `bowline proxy` therefore holds it
 * before it imports the proxy (src/cli/commands/proxy.ts), where it is ~1-2 MB. The price is
 * more scavenges at saturation (docs/performance.md, Memory). `semi-space-growth-factor` is read
 * each time V8 grows the new space, so it works when set at run time (`max-semi-space-size`
 * would not). Pass `--max-semi-space-size=N` to node to choose the size yourself.
 */
import { setFlagsFromString } from 'node:v8';

/** Stops young-generation growth unless node flags chose its size (`--max-semi-space-size` etc.: theirs win). Returns whether it applied. */
export function holdYoungGeneration(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  const chosen = (s: string): boolean => /semi[-_]space/.test(s);
  if (execArgv.some(chosen) || chosen(nodeOptions)) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
