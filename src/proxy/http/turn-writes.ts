/**
 * Socket writes held until the end of the turn, then written once per socket. While the event
 * loop is busy (more than half of the last 100 ms, the one coarse timer here), the turn is the
 * loop's whole I/O phase (haproxy's shape: read every ready socket, then send): one turn reads
 * many connections, and writing as each request is handled would wake the peer (the upstream,
 * the client) once per request and let it preempt the proxy mid-turn (measured: ~1 involuntary
 * context switch per request under wrk, a third of that held). Held to the end of the phase
 * (setImmediate: the `check` phase of the same loop iteration), every socket gets one write of
 * everything it was sent (a response head and its body, pipelined responses, a request head
 * and its body). While the loop is mostly idle a turn handles one event, so the writes leave
 * at the end of the callback that made them (process.nextTick), with no check-phase callback.
 *
 * A holder (http/downstream.ts, upstream/pool.ts) keeps its own pending bytes and asks for a
 * flush with `flushAtTurnEnd` when it holds the first of a turn; bytes beyond its batch limit
 * or the socket's high-water mark are written through at once, after what was held, so
 * backpressure shows as before.
 */

/** Something holding writes for the end of the turn. */
export interface HeldWrites {
  /** Writes what is held (nothing when it was written or dropped meanwhile). */
  flushHeld(): void;
}

import { performance } from 'node:perf_hooks';

/** Event loop utilisation above which writes are held to the end of the I/O phase. */
const BUSY = 0.5;
const SAMPLE_MS = 100;

const pending: HeldWrites[] = [];
let scheduled = false;
let busy = false;
let sampler: NodeJS.Timeout | undefined;
let lastElu = performance.eventLoopUtilization();

function sample(): void {
  const now = performance.eventLoopUtilization();
  busy = performance.eventLoopUtilization(now, lastElu).utilization > BUSY;
  lastElu = now;
}

/** Calls `w.flushHeld()` at the end of this turn (once per call: call it when the first bytes are held). */
export function flushAtTurnEnd(w: HeldWrites): void {
  pending.push(w);
  if (scheduled) return;
  scheduled = true;
  sampler ??= setInterval(sample, SAMPLE_MS).unref();
  if (busy) setImmediate(flushAll);
  else process.nextTick(flushAll);
}

function flushAll(): void {
  scheduled = false;
  // A flush never calls back into a holder synchronously; anything held meanwhile is flushed here too.
  for (let i = 0; i < pending.length; i++) pending[i]!.flushHeld();
  pending.length = 0;
}

/** `parts` (strings are latin1: one byte per character) joined into one buffer of `bytes`. */
export function joinParts(parts: Array<string | Buffer>, bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const d = parts[i]!;
    if (typeof d === 'string') at += out.write(d, at, 'latin1');
    else { out.set(d, at); at += d.length; }
  }
  return out;
}
