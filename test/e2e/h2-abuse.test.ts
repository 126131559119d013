// HTTP/2 abuse against a real `bowline proxy` process (issue 12 item 5), with frames written by
// hand (test/support/h2-frames.ts): rapid reset at scale (10 connections x 3000 HEADERS+RST_STREAM
// pairs, repeated for a few seconds), then CONTINUATION without END_HEADERS, a SETTINGS flood, a
// 1 MB header block, window overflow, a bad preface and frames on closed streams, each repeated on
// several connections for about a second. During every attack a normal client on its own
// connection keeps measuring its latency (p99 bounded at 1 s: generous for a loaded 2-core
// machine, but a stall of the proxy's event loop shows), the proxy's RSS is read from /proc, and
// every attacking connection must end in GOAWAY or RST_STREAM with the code RFC 9113 names.
// Each attack prints one `FIGURE h2 ...` line.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Child } from '../support/process.js';
import { waitForOutput } from '../support/wait.js';
import { attack, bigBlock, END_HEADERS, END_STREAM, ERR, frame, opening, rapidReset, requestBlock, T, type Observed } from '../support/h2-frames.js';
import { cluster, config, listener, startProxyProcess } from './protocols-harness.js';
import { tempDir } from '../support/temp.js';

const home = tempDir('bowline-e2e-h2abuse-');
let upstream: Server;
let proxyChild: Child;
let port = 0;
let client: ClientHttp2Session;
/** The normal client's latencies before any attack. */
let baseline: number[] = [];
/** The normal client's p99 during an attack may not exceed this: a stall of the proxy shows, a loaded machine passes. */
const P99_BOUND_MS = 1000;
/**
 * A connection the proxy ended must be closed within this after its GOAWAY. The bug it catches left connections open
 * for ~35 s or for good; 71 ms is typical at a load average of 17, and runs at higher load took over 1 s (the close
 * waits for a core), so the bound is generous and the watch windows below are longer than it.
 */
const CLOSE_BOUND_MS = 5000;
/** How long a connection expected to be closed is watched (a connection closed earlier ends its watch at once). */
const CLOSE_WATCH_MS = CLOSE_BOUND_MS + 3000;

/** The proxy's resident set size in MB, from /proc. */
function rssMb(): number {
  const status = readFileSync(`/proc/${proxyChild.proc.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** One GET over the normal client's session; resolves with its latency in ms. */
function timedGet(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = client.request({ ':method': 'GET', ':path': '/normal', ':authority': 'svc' });
    req.on('response', (h) => {
      if (h[':status'] !== 200) reject(new Error(`status ${String(h[':status'])}`));
      req.resume();
      req.on('end', () => resolve(performance.now() - t0));
    });
    req.on('error', reject);
    req.end();
  });
}

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!;
}

/** Sequential requests until `stop()` says so (at most `max`); the latencies. */
async function sample(stop: () => boolean, max: number): Promise<number[]> {
  const out: number[] = [];
  while (!stop() && out.length < max) out.push(await timedGet());
  return out;
}

beforeAll(async () => {
  upstream = createServer((req, res) => { req.resume(); res.end('ok'); });
  upstream.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const up = (upstream.address() as { port: number }).port;
  const cfg = config([listener('h2', [{ name: 'http', http: { routeConfig: 'r' } }])], [cluster('up', [up], { protocol: 'http1' })], {
    routes: [{ name: 'r', virtualHosts: [{ name: 'v', domains: ['*'], routes: [{ route: { destinations: [{ cluster: 'up', weight: 100 }] } }] }] }],
  });
  ({ proxy: proxyChild, port } = await startProxyProcess(home, cfg, 'h2'));
  client = h2connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  for (let i = 0; i < 200; i++) await timedGet(); // warm up (JIT, pools)
  baseline = await sample(() => false, 300);
}, 60_000);

afterAll(async () => {
  client?.close();
  await proxyChild?.stop();
  await new Promise<void>((r) => { upstream?.close(() => r()); upstream?.closeAllConnections(); });
});

describe('rapid reset at scale', () => {
  it('10 connections x 3000 HEADERS+RST pairs: every one gets GOAWAY and is closed promptly; RSS bounded', async () => {
    const before = await sample(() => false, 1000);
    const rssBefore = rssMb();
    let attacking = true;
    let rssPeak = rssBefore;
    const rssTimer = setInterval(() => { rssPeak = Math.max(rssPeak, rssMb()); }, 50);
    const bytes = Buffer.concat([opening(), rapidReset('svc', 3000)]);
    const waves: Observed[][] = [];
    const t0 = performance.now();
    const attacker = (async () => {
      // Waves of 10 connections, for about 3 s (bounded: at most 20 waves).
      for (let w = 0; w < 20 && performance.now() - t0 < 3000; w++) {
        waves.push(await Promise.all(Array.from({ length: 10 }, () => attack(port, bytes, Math.max(10_000, CLOSE_WATCH_MS)))));
      }
      attacking = false;
    })();
    const during = await sample(() => !attacking, 100_000);
    await attacker;
    clearInterval(rssTimer);
    rssPeak = Math.max(rssPeak, rssMb());
    const all = waves.flat();
    const report = {
      waves: waves.length, connections: all.length, samplesBefore: before.length, samplesDuring: during.length,
      p99BeforeMs: +p99(before).toFixed(2), p99DuringMs: +p99(during).toFixed(2),
      rssBeforeMb: +rssBefore.toFixed(1), rssPeakMb: +rssPeak.toFixed(1),
      goaways: all.filter((o) => o.goaway !== undefined).length,
      goawayCodes: [...new Set(all.map((o) => o.goaway))],
      maxGoawayMs: Math.max(...all.map((o) => o.goawayMs ?? Infinity)),
      maxCloseAfterGoawayMs: Math.max(...all.map((o) => o.closeAfterGoawayMs ?? Infinity)),
      responsesPerConnMax: Math.max(...all.map((o) => o.responses)),
    };
    console.log('FIGURE h2 rapid reset', JSON.stringify({ ...report, p99Ratio: +(report.p99DuringMs / report.p99BeforeMs).toFixed(1) }));
    await waitForOutput(proxyChild, 'BOWLINE_E_H2_RESET_FLOOD', { what: 'the proxy logs the reset flood' });
    expect(report.goaways).toBe(all.length);
    // Our codec counts resets while decoding: the 101st early reset ends the connection, whatever else the read held.
    expect(report.goawayCodes).toEqual([ERR.ENHANCE_YOUR_CALM]);
    // Closed right after the GOAWAY, not left open (the issue measured ~35 s; 71 ms measured at a load average of 17).
    expect(report.maxCloseAfterGoawayMs).toBeLessThan(CLOSE_BOUND_MS);
    // Nothing of the rest of a burst is built once the connection ended: +13 MB measured (node:http2, which built
    // every stream of a large read before its first 'stream' event, peaked at +42 to +154 MB).
    expect(report.rssPeakMb).toBeLessThan(rssBefore + 60);
    // The normal client on its own connection stays served. The target (within 2x of its p99 before) is
    // printed, not asserted (a loaded 2-core machine decides it: 2.6x at a load average of 17); the bound catches
    // a stall of the event loop (the issue measured a 5.9 s request before the limits).
    expect(report.samplesDuring).toBeGreaterThan(0);
    expect(report.p99DuringMs).toBeLessThan(P99_BOUND_MS);
  });
});

/** What one attack did to the proxy and to the normal client. */
interface AttackRun { all: Observed[]; during: number[]; rssBefore: number; rssPeak: number }

/**
 * Sends `bytes()` on `conns` connections at once, wave after wave for about `ms` (at most `maxWaves`), each connection
 * watched for up to `watchMs`, while the normal client sends sequential requests on its own connection.
 */
async function underAttack(bytes: () => Buffer | Buffer[], o: { conns: number; ms: number; maxWaves: number; watchMs: number }): Promise<AttackRun> {
  const rssBefore = rssMb();
  let rssPeak = rssBefore;
  const rssTimer = setInterval(() => { rssPeak = Math.max(rssPeak, rssMb()); }, 50);
  const all: Observed[] = [];
  let attacking = true;
  const t0 = performance.now();
  const attacker = (async () => {
    try {
      for (let w = 0; w < o.maxWaves && (w === 0 || performance.now() - t0 < o.ms); w++) all.push(...await Promise.all(Array.from({ length: o.conns }, () => attack(port, bytes(), o.watchMs))));
    } finally { attacking = false; }
  })();
  const during = await sample(() => !attacking, 100_000);
  await attacker;
  clearInterval(rssTimer);
  return { all, during, rssBefore, rssPeak: Math.max(rssPeak, rssMb()) };
}

describe('malformed and abusive frames: each ends in GOAWAY or RST_STREAM with the right code; a normal client meanwhile stays served', () => {
  /** A connection error: GOAWAY with `code` (one of `codes`), then the proxy closes the connection promptly. */
  const goawayWith = (...codes: number[]) => (o: Observed): void => {
    expect(codes).toContain(o.goaway);
    expect(o.closedMs, 'closed by the proxy').toBeDefined();
    expect(o.closeAfterGoawayMs!).toBeLessThan(CLOSE_BOUND_MS);
  };
  const inc = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
  /** [name, bytes of one attacking connection, check of what it saw, how long a connection is watched (a stream error leaves it open), connections per wave (default 10)]. */
  const cases: Array<[string, () => Buffer | Buffer[], (o: Observed) => void, number, number?]> = [
    ['CONTINUATION frames without END_HEADERS', () => {
      const pieces = [opening(), frame(T.HEADERS, END_STREAM, 1, requestBlock('svc'))];
      for (let i = 0; i < 2000; i++) pieces.push(frame(T.CONTINUATION, 0, 1, Buffer.from([0x10, 1, 0x61, 1, 0x62])));
      return Buffer.concat(pieces);
    }, goawayWith(ERR.ENHANCE_YOUR_CALM, ERR.COMPRESSION_ERROR), CLOSE_WATCH_MS],
    ['a SETTINGS flood (20,000 SETTINGS frames, each needing an ACK)', () => {
      const one = frame(T.SETTINGS, 0, 0, Buffer.from([0, 4, 0, 0, 0xff, 0xff])); // INITIAL_WINDOW_SIZE 65535
      return Buffer.concat([opening(), ...Array.from({ length: 20_000 }, () => one)]);
    }, goawayWith(ERR.ENHANCE_YOUR_CALM), CLOSE_WATCH_MS],
    ['a 1 MB header block (HEADERS + CONTINUATIONs)', () => {
      const block = bigBlock('svc', 1024 * 1024);
      const pieces = [opening()];
      for (let off = 0, first = true; off < block.length; off += 16_000, first = false) {
        const last = off + 16_000 >= block.length;
        pieces.push(frame(first ? T.HEADERS : T.CONTINUATION, (first ? END_STREAM : 0) | (last ? END_HEADERS : 0), 1, block.subarray(off, off + 16_000)));
      }
      return Buffer.concat(pieces);
    }, (o) => {
      expect(o.responses).toBe(0);
      if (o.goaway === undefined) expect(o.resets.get(1)).toBe(ERR.ENHANCE_YOUR_CALM);
      else goawayWith(ERR.ENHANCE_YOUR_CALM, ERR.COMPRESSION_ERROR)(o);
    }, 2000, 4], // 4 MB per wave: ten at once measured the machine's copying more than the proxy
    ['a WINDOW_UPDATE that overflows the connection window', () => Buffer.concat([opening(), frame(T.WINDOW_UPDATE, 0, 0, inc(0x7fffffff)), frame(T.WINDOW_UPDATE, 0, 0, inc(0x7fffffff))]),
      goawayWith(ERR.FLOW_CONTROL_ERROR), CLOSE_WATCH_MS],
    ['a WINDOW_UPDATE that overflows a stream window', () => Buffer.concat([opening(), frame(T.HEADERS, END_HEADERS, 1, requestBlock('svc')), frame(T.WINDOW_UPDATE, 0, 1, inc(0x7fffffff)), frame(T.WINDOW_UPDATE, 0, 1, inc(0x7fffffff))]),
      (o) => { expect(o.resets.get(1) ?? o.goaway).toBe(ERR.FLOW_CONTROL_ERROR); }, 500],
    // RFC 9113 3.4: the GOAWAY may be omitted for a bad preface (the peer is not speaking HTTP/2); the close is what counts.
    ['an invalid preface', () => Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n' + 'x'.repeat(100), 'latin1'),
      (o) => { expect(o.closedMs, 'closed by the proxy').toBeDefined(); expect(o.responses).toBe(0); }, CLOSE_WATCH_MS],
    // A connection error (RFC 9113 5.4.1): GOAWAY STREAM_CLOSED, then the TCP connection is closed (node:http2 sent the
    // GOAWAY but left the connection open).
    ['DATA on a stream the client already closed (END_STREAM)', () => Buffer.concat([opening(), frame(T.HEADERS, END_STREAM | END_HEADERS, 1, requestBlock('svc')), frame(T.DATA, END_STREAM, 1, Buffer.from('late'))]),
      goawayWith(ERR.STREAM_CLOSED), CLOSE_WATCH_MS],
  ];

  it.each(cases)('%s', async (name, bytes, check, watchMs, conns = 10) => {
    // `conns` connections at once, waves for about a second (at most 10 waves).
    const r = await underAttack(bytes, { conns, ms: 1000, maxWaves: 10, watchMs });
    const codes = (f: (o: Observed) => number[]) => [...new Set(r.all.flatMap(f))];
    const fig = {
      connections: r.all.length, samplesBefore: baseline.length, samplesDuring: r.during.length,
      p99BeforeMs: +p99(baseline).toFixed(2), p99DuringMs: +p99(r.during).toFixed(2), maxDuringMs: +Math.max(...r.during).toFixed(2),
      rssBeforeMb: +r.rssBefore.toFixed(1), rssPeakMb: +r.rssPeak.toFixed(1),
      goawayCodes: codes((o) => (o.goaway === undefined ? [] : [o.goaway])), resetCodes: codes((o) => [...o.resets.values()]),
      closedByProxy: r.all.filter((o) => o.closedMs !== undefined).length,
      maxCloseAfterGoawayMs: +Math.max(0, ...r.all.map((o) => o.closeAfterGoawayMs ?? 0)).toFixed(1),
    };
    console.log(`FIGURE h2 ${name}`, JSON.stringify({ ...fig, p99Ratio: +(fig.p99DuringMs / fig.p99BeforeMs).toFixed(1) }));
    for (const o of r.all) check(o);
    expect(r.during.length).toBeGreaterThan(0);
    expect(fig.p99DuringMs).toBeLessThan(P99_BOUND_MS);
    expect(fig.rssPeakMb).toBeLessThan(fig.rssBeforeMb + 100);
    expect(await timedGet()).toBeLessThan(P99_BOUND_MS);
  });
});
