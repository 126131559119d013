/**
 * Node flags every launcher of `bowline proxy` passes to node (the demo, `bowline join`'s unit and
 * foreground proxy, the benchmarks). Run as an executable (`bowline ...`: the image's entrypoint, the
 * Kubernetes and Marathon sidecars, a user's shell), bin/bowline's first line
 * (`#!/usr/bin/env -S node --single-threaded-gc --v8-pool-size=1`) passes the same to every command; keep the two
 * equal (node-flags.test.ts checks).
 *
 * `--single-threaded-gc`: V8 collects on the proxy's own thread instead of waking its helper
 * threads for every scavenge and marking step. A sidecar has a core or less (a CPU limit, or a
 * 2-core host shared with its app): parallel GC threads compete with the event loop for it and
 * each scavenge costs their futex wake-ups. Measured side by side (bench/h1-ab.ts --together,
 * docs/performance.md "The wake-up at 1000 rps"): -8 to -10 % CPU per request at 1000 rps and at
 * saturation. It has to be on node's command line: V8 does not take it once the heap runs
 * (`v8.setFlagsFromString('--single-threaded-gc')` at run time crashes in the next collection),
 * and NODE_OPTIONS refuses it.
 *
 * `--v8-pool-size=1`: one V8 worker thread (default 4) for what V8 still does off the main thread
 * (concurrent TurboFan and Sparkplug compilation). Each worker that compiles gets its own malloc
 * arena, whose pages stay resident after the compilation: RSS after the bench's load -0.4 to -1.2 MB
 * (docs/performance.md, Memory), CPU per request side by side unchanged or lower (bench/h1-ab.ts
 * --together: sat 0.920, 1000 rps 0.944 of the 4-thread pool's). `--single-threaded` (no worker at
 * all: TurboFan on the event loop) saved as much but cost +8 to +13 % CPU per request.
 */
export const PROXY_NODE_FLAGS: readonly string[] = ['--single-threaded-gc', '--v8-pool-size=1'];

/** `[...PROXY_NODE_FLAGS, bowlineBin, ...args]`: the argv after node's path for a `bowline proxy` process. */
export function proxyArgv(bowlineBin: string, args: readonly string[]): string[] {
  return [...PROXY_NODE_FLAGS, bowlineBin, ...args];
}
