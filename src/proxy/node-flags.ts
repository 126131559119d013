/**
 * Node flags every launcher of `bowline proxy` passes to node (the demo, `bowline join`'s unit and
 * foreground proxy, the benchmarks). Run as an executable (`bowline ...`: the image's entrypoint, the
 * Kubernetes and Marathon sidecars, a user's shell), bin/bowline's first line
 * (`#!/usr/bin/env -S node --single-threaded-gc --v8-pool-size=1 --max-semi-space-size=4 --no-sparkplug`) passes the same to every command; keep the two
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
 *
 * `--max-semi-space-size=4`: the cap the young generation grows to once the proxy serves
 * (young-generation.ts: held at ~1 MB through start-up, released after it, given back by the idle
 * GC). At 1000 rps a proxy held at 1 MB scavenged ~7-9 times a second, each an event-loop stall
 * that a sidecar pair puts in front of ~1 % of its requests (suspected to be the hop's added p99).
 * bench/hop-ab.ts with --trace-gc, the same 27 s of load: held 201 + 252 scavenges (outer + inner),
 * 4 MB 57 + 69, 8 MB 33 + 39; CPU per request 0.987 of the held pair's for both caps (0.956 in a
 * quieter 8 MB run). The price is RSS while loaded: both semi-spaces are resident until the proxy
 * goes quiet -- peak (VmHWM) under the bench's load 68.5-69 MB at 4 MB, 76-83 at 8, 63-64 held;
 * RSS after load, once the idle GC ran, unchanged within the noise (docs/performance.md, Memory).
 * A container's memory limit must fit the peak: 4 MB takes most of the scavenges away (3.6x fewer)
 * for a third of 8 MB's peak memory, which is why it is the default.
 *
 * `--no-sparkplug`: no V8 baseline compiler in the proxy, whose code V8 keeps for the life of the process
 * with the bytecode of everything start-up ran (node's module loader, the config's compilation) and beside
 * the request path's optimised code; every other command turns it on again at once (baseline-compiler.ts).
 * RSS after the bench's load -1.5 MB, at start -1.0; CPU per request unchanged within the noise
 * (docs/performance.md, Memory).
 */
export const PROXY_NODE_FLAGS: readonly string[] = ['--single-threaded-gc', '--v8-pool-size=1', '--max-semi-space-size=4', '--no-sparkplug'];

/** `[...PROXY_NODE_FLAGS, bowlineBin, ...args]`: the argv after node's path for a `bowline proxy` process. */
export function proxyArgv(bowlineBin: string, args: readonly string[]): string[] {
  return [...PROXY_NODE_FLAGS, bowlineBin, ...args];
}
