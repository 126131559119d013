// Bounded request loops for the fault suite: GETs through a client sidecar's outbound listener on
// keep-alive connections (a client's usual shape), counted by status, with latencies for p50/p99,
// and the one-line FIGURE each case prints.
import http from 'node:http';

/** What one bounded loop saw. */
export interface LoadResult {
  sent: number;
  failed: number;
  statuses: Record<string, number>;
  /** When each failure happened, ms from the loop's start. */
  failedAt: number[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Transport errors during this loop, by message. */
  transportErrors: Record<string, number>;
}

/** The `q` quantile (0..1) of `xs` (0 when empty). */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))]!;
}

/** A client that sends GET `url` through 127.0.0.1:`port` (a sidecar's outbound listener). */
export class LoadClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16, scheduling: 'fifo' });
  /** Keep-alive sockets the sidecar closed as they were reused, resent once (Node's documented pattern for idempotent requests). */
  staleRetries = 0;
  /** Transport errors by message. */
  readonly errors: Record<string, number> = {};

  constructor(private readonly port: number, private readonly url: string) {}

  /** One GET; status 0 on a transport error. */
  get(retry = true): Promise<{ status: number; ms: number; body: string; headers: http.IncomingHttpHeaders }> {
    const t0 = performance.now();
    return new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: this.port, path: this.url, headers: { host: new URL(this.url).host }, agent: this.agent, timeout: 10_000 }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, body, headers: res.headers }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        if (retry && req.reusedSocket && (e as NodeJS.ErrnoException).code === 'ECONNRESET') { this.staleRetries++; return void this.get(false).then(resolve); }
        const key = `${e.message}${req.reusedSocket ? ' (reused connection, resent)' : retry ? '' : ' (resend)'}`;
        this.errors[key] = (this.errors[key] ?? 0) + 1;
        resolve({ status: 0, ms: performance.now() - t0, body: '', headers: {} });
      });
      req.end();
    });
  }

  /** Sends `rps` GETs per second for `ms` (open loop: a slow answer does not slow the sender); `during(elapsed)` runs every few ms;
   *  `stop(sent)`, checked as often, ends the load early (then `ms` is only the cap). */
  async load(rps: number, ms: number, during?: (elapsed: number) => void, onResponse?: (r: { status: number; body: string; headers: http.IncomingHttpHeaders }) => void, stop?: (sent: number) => boolean): Promise<LoadResult> {
    const out = { sent: 0, failed: 0, statuses: {} as Record<string, number>, failedAt: [] as number[] };
    const lat: number[] = [];
    const inflight: Promise<void>[] = [];
    const errorsBefore = { ...this.errors };
    const t0 = Date.now();
    let n = 0;
    while (Date.now() - t0 < ms) {
      const due = Math.floor(((Date.now() - t0) * rps) / 1000);
      for (; n < due; n++) {
        out.sent++;
        inflight.push(this.get().then((r) => {
          lat.push(r.ms);
          out.statuses[r.status] = (out.statuses[r.status] ?? 0) + 1;
          if (r.status !== 200) { out.failed++; out.failedAt.push(Date.now() - t0); }
          onResponse?.(r);
        }));
      }
      during?.(Date.now() - t0);
      if (stop?.(out.sent)) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(inflight);
    const transportErrors: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.errors)) if (v > (errorsBefore[k] ?? 0)) transportErrors[k] = v - (errorsBefore[k] ?? 0);
    return { ...out, transportErrors, p50Ms: +quantile(lat, 0.5).toFixed(1), p99Ms: +quantile(lat, 0.99).toFixed(1), maxMs: +Math.max(0, ...lat).toFixed(1) };
  }

  /** Closes the keep-alive connections. */
  close(): void { this.agent.destroy(); }
}

/** The FIGURE line of one case: `FIGURE name: N requests, F failed, p99 X ms ...; extra`. */
export function figure(name: string, r: LoadResult, extra = ''): string {
  return `FIGURE ${name}: ${r.sent} requests, ${r.failed} failed ${JSON.stringify(r.statuses)}, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms${Object.keys(r.transportErrors).length ? `, transport errors ${JSON.stringify(r.transportErrors)}` : ''}${extra ? `; ${extra}` : ''}`;
}
