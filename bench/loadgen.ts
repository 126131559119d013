/**
 * An open-loop HTTP/1.1 load generator over keep-alive connections: requests are scheduled at
 * a fixed rate whatever the server does. Each request is timed from the moment the generator's
 * timer found it due: from its write when a connection was free, and including the wait for one
 * when every connection was busy with a slower response, so queueing behind a slow response
 * counts (no coordinated omission). The generator's own lateness -- node's timers have
 * millisecond resolution, so a tick wakes up to ~1 ms after a request was due -- is not the
 * server's: it is reported apart (`lagMs`), not in the latencies. Responses must carry Content-Length (every target in
 * the benchmark does).
 */
import { connect, type Socket } from 'node:net';

/** Latencies in ms of every completed request, and how many failed or were still outstanding. */
export interface OpenLoopResult {
  latencies: number[];
  /** For each latency: how many requests its timer tick found due (1: sent alone; more: the timer fired late). */
  ticks: number[];
  /** For each latency: when its request was due, ms after the run's first slot. */
  dueAtMs: number[];
  errors: number;
  sent: number;
  /** How late the generator's timer found each request due (not counted in `latencies`), ms. */
  lagMs: number[];
}

interface Conn { s: Socket; busy: boolean; start: number; buf: string; tick: number; dueAt: number }

/** A call made once while a loop runs: when its first request due `atMs` or later after the run's first slot is about to be sent. */
export interface LoopMark { atMs: number; run(): void }

/** Sends `rate` requests per second for `durationMs` to 127.0.0.1:`port` over `conns` connections (`mark`: see LoopMark). */
export async function openLoop(port: number, rate: number, durationMs: number, request: string, conns = 8, mark?: LoopMark): Promise<OpenLoopResult> {
  return (await openLoops([port], rate, durationMs, request, conns, mark))[0]!;
}

/**
 * `openLoop` on several targets at once from one timer: each due slot sends one request to every
 * target, in an order that alternates slot by slot (A then B, then B then A), so no target is
 * always woken first. Two open loops started one after the other instead put the first one's
 * requests ahead of the second's in every tick (node runs due timers in the order they were
 * set): paired rounds read +15..30 % for whichever proxy was loaded first (docs/performance.md,
 * Telemetry). One result per port, in the order given.
 */
export async function openLoops(ports: readonly number[], rate: number, durationMs: number, request: string, conns = 8, mark?: LoopMark): Promise<OpenLoopResult[]> {
  const targets = await Promise.all(ports.map((port) => target(port, request, conns)));
  const total = Math.floor((rate * durationMs) / 1000);
  let scheduled = 0;
  const t0 = performance.now() + 5;
  const interval = 1000 / rate;
  const n = targets.length;
  let marked = false;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      let count = 0;
      while (scheduled + count < total && t0 + (scheduled + count) * interval <= now) count++;
      for (let j = 0; j < count; j++) {
        const due = t0 + scheduled * interval;
        if (mark !== undefined && !marked && due - t0 >= mark.atMs) { marked = true; mark.run(); }
        const reverse = (scheduled & 1) === 1;
        scheduled++;
        for (let k = 0; k < n; k++) targets[reverse ? n - 1 - k : k]!.due(now, now - due, count, due - t0);
      }
      if (scheduled < total) setTimeout(tick, Math.max(0, t0 + scheduled * interval - performance.now()));
      else resolve();
    };
    tick();
  });
  const deadline = performance.now() + 2000;
  while (targets.some((t) => t.outstanding()) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return targets.map((t) => t.finish());
}

/** One target of openLoops: its connections, queue and results. */
async function target(port: number, request: string, conns: number): Promise<{ due(now: number, lag: number, tick: number, dueAt: number): void; outstanding(): boolean; finish(): OpenLoopResult }> {
  const pool: Conn[] = [];
  for (let i = 0; i < conns; i++) {
    const s = connect({ port, host: '127.0.0.1', noDelay: true });
    await new Promise<void>((res, rej) => { s.once('connect', () => res()); s.once('error', rej); });
    pool.push({ s, busy: false, start: 0, buf: '', tick: 0, dueAt: 0 });
  }
  const latencies: number[] = [];
  const ticks: number[] = [];
  const dueAtMs: number[] = [];
  const lagMs: number[] = [];
  let errors = 0;
  let sent = 0;
  const queue: Array<{ at: number; tick: number; dueAt: number }> = []; // requests waiting for a free connection: when the timer found them due
  const send = (c: Conn, at: number, tick: number, dueAt: number): void => {
    c.busy = true;
    c.start = at;
    c.tick = tick;
    c.dueAt = dueAt;
    sent++;
    c.s.write(request);
  };
  for (const c of pool) {
    c.s.on('data', (d) => {
      c.buf += d.toString('latin1');
      for (;;) {
        const he = c.buf.indexOf('\r\n\r\n');
        if (he < 0) return;
        const m = /content-length:\s*(\d+)/i.exec(c.buf.slice(0, he));
        const end = he + 4 + (m ? Number(m[1]) : 0);
        if (c.buf.length < end) return;
        if (!c.buf.startsWith('HTTP/1.1 200')) errors++;
        c.buf = c.buf.slice(end);
        latencies.push(performance.now() - c.start);
        ticks.push(c.tick);
        dueAtMs.push(c.dueAt);
        c.busy = false;
        const next = queue.shift();
        if (next !== undefined) send(c, next.at, next.tick, next.dueAt);
      }
    });
    c.s.on('error', () => { errors++; });
  }
  return {
    due(now, lag, tick, dueAt) {
      lagMs.push(lag);
      const free = pool.find((c) => !c.busy);
      if (free) send(free, now, tick, dueAt); else queue.push({ at: now, tick, dueAt });
    },
    outstanding: () => queue.length > 0 || pool.some((c) => c.busy),
    finish() {
      for (const c of pool) c.s.destroy();
      return { latencies, ticks, dueAtMs, errors: errors + queue.length + pool.filter((c) => c.busy).length, sent, lagMs };
    },
  };
}

/** The q-quantile (0..1) of `xs` in ms. */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
