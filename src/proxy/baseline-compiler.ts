/**
 * V8's baseline compiler (Sparkplug) and `bowline proxy`. Sparkplug compiles every function that runs a few
 * times into machine code several times the size of its bytecode, and V8 keeps a function's baseline code,
 * and its bytecode with it, for the life of the process (`--flush-baseline-code` is off by default): at
 * start-up node's own module loader (it runs for every module), the module bodies' helpers, the config's
 * compilation -- code that never runs again, which the quiet period's GC would flush (idle-gc.ts
 * flushStartupCode) but cannot while it has baseline code --, and under load every warm function of the
 * request path, beside the TurboFan code of the hot ones.
 *
 * So node starts with `--no-sparkplug` (PROXY_NODE_FLAGS, bin/bowline's shebang: on node's command line,
 * node's own start-up runs before any of ours) and the proxy keeps it off: the request path runs in the
 * interpreter until TurboFan optimises it. RSS after the bench's load -1.5 MB (median of 9 rounds), CPU per
 * request and the hop's p99 side by side unchanged within the noise (docs/performance.md, Memory, session
 * 12). Every other command turns Sparkplug on again at once (src/cli/main.ts: releaseBaselineCompiler).
 */
import { setFlagsFromString } from 'node:v8';

/** Whether node was started without Sparkplug (`--no-sparkplug` on its command line or in NODE_OPTIONS) and it was not turned on since. */
let held: boolean | undefined;

const startedWithout = (execArgv: readonly string[], nodeOptions: string): boolean =>
  execArgv.includes('--no-sparkplug') || /(^|\s)--no[-_]sparkplug(\s|$)/.test(nodeOptions);

/**
 * Turns V8's baseline compiler on when node started without it (PROXY_NODE_FLAGS' `--no-sparkplug`, meant for
 * the proxy) and `--always-sparkplug` was not given. Once: later calls do nothing. Returns whether it applied.
 */
export function releaseBaselineCompiler(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  held ??= startedWithout(execArgv, nodeOptions) && !execArgv.some((s) => /^--always[-_]sparkplug$/.test(s));
  if (!held) return false;
  setFlagsFromString('--sparkplug');
  held = false;
  return true;
}
