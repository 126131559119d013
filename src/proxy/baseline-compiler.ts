/**
 * Start-up without V8's baseline compiler (Sparkplug). Sparkplug compiles every function that runs a few
 * times into machine code several times the size of its bytecode, and V8 keeps a function's baseline
 * code, and its bytecode with it, for the life of the process (`--flush-baseline-code` is off by
 * default). At start-up that is node's own module loader (it runs for every module the CLI and the proxy
 * load), the module bodies' helpers, the config's parsing, validation and compilation: code that never
 * runs again, which the quiet period's GC would flush (idle-gc.ts flushStartupCode) but cannot while it
 * has baseline code.
 *
 * So node starts with `--no-sparkplug` (PROXY_NODE_FLAGS, bin/bowline's shebang: it has to be on node's
 * command line, node's own start-up runs before any of ours; set at run time from the proxy command's
 * first line it saved ~0.3 of the ~1 MB at start) and Sparkplug is turned on again (`--sparkplug`: V8
 * reads it at each tier-up decision) once start-up is over: at once for every command but `bowline
 * proxy` (src/cli/main.ts), for the proxy when start-up has settled (src/proxy/sidecar.ts, 5 s after start-up
 * with the young generation's release; requests before then run in the interpreter, then TurboFan). From then
 * on the request path is compiled as before, Sparkplug then TurboFan; a function start-up ran too gets its
 * baseline code at its next tier-up check.
 * Measured: docs/performance.md, Memory (session 12).
 */
import { setFlagsFromString } from 'node:v8';

/** Whether node was started without Sparkplug (`--no-sparkplug` on its command line or in NODE_OPTIONS) and it was not turned on since. */
let held: boolean | undefined;

const startedWithout = (execArgv: readonly string[], nodeOptions: string): boolean =>
  execArgv.includes('--no-sparkplug') || /(^|\s)--no[-_]sparkplug(\s|$)/.test(nodeOptions);

/**
 * Turns V8's baseline compiler on when node started without it (PROXY_NODE_FLAGS' `--no-sparkplug`: start-up
 * only) and `--always-sparkplug` was not given. Once: later calls do nothing. Returns whether it applied.
 */
export function releaseBaselineCompiler(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  held ??= startedWithout(execArgv, nodeOptions) && !execArgv.some((s) => /^--always[-_]sparkplug$/.test(s));
  if (!held) return false;
  setFlagsFromString('--sparkplug');
  held = false;
  return true;
}
