/**
 * Batched span export over HTTP with a bounded queue. `add()` is all the request path ever
 * calls: it pushes to an array or, when the queue is full, counts a drop. Sending happens on a
 * timer or when a batch fills, one POST at a time, with a timeout; a collector that refuses,
 * hangs or answers garbage is counted (`failed`) and its batch discarded. Nothing is awaited
 * by requests, and a dead collector costs them nothing but the drop counter.
 */
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import { TelemetryCodes, TelemetryError } from '../errors.js';
import type { SpanData } from './span.js';
import { encodeZipkin } from './zipkin.js';
import { encodeOtlp } from './otlp.js';

/** Wire format of an exporter. */
export type ExportFormat = 'zipkin' | 'otlp';

/** Options of a batch exporter. */
export interface ExporterOptions {
  /** Full URL, e.g. `http://127.0.0.1:9411/api/v2/spans` or `http://127.0.0.1:4318/v1/traces`. */
  url: string;
  format: ExportFormat;
  /** Spans queued before new ones are dropped (default 4096). */
  maxQueue?: number;
  /** Spans per POST; a full batch is sent at once (default 512). */
  maxBatch?: number;
  /** Send whatever is queued this often (default 1000 ms). */
  intervalMs?: number;
  /** Give up on a POST after this long (default 2000 ms). */
  timeoutMs?: number;
}

/** Counters of one exporter. */
export interface ExporterStats {
  /** Spans a collector accepted (2xx). */
  exported: number;
  /** Spans refused because the queue was full. */
  dropped: number;
  /** Spans lost in failed POSTs (refused, timed out, non-2xx, unparseable answer). */
  failed: number;
  /** Failed POSTs. */
  failedRequests: number;
}

/** A span sink with batching; the tracer calls `add` on the request path. */
export class BatchExporter {
  /** Live counters. */
  readonly stats: ExporterStats = { exported: 0, dropped: 0, failed: 0, failedRequests: 0 };
  private queue: SpanData[] = [];
  private inFlight: Promise<boolean> | undefined;
  private scheduled = false;
  private readonly timer: NodeJS.Timeout;
  private readonly url: URL;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly timeoutMs: number;
  private readonly agent: Http.Agent;
  /** node:http, or node:https (required only for an https collector: a proxy exporting over http never loads node's TLS); required by the first exporter, so a proxy that exports no spans never loads them. */
  private readonly mod: Pick<typeof Http, 'request'>;
  private closed = false;

  constructor(readonly options: ExporterOptions) {
    let u: URL;
    try {
      u = new URL(options.url);
    } catch {
      throw new TelemetryError(TelemetryCodes.EXPORTER_URL, `invalid trace collector URL ${JSON.stringify(options.url)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new TelemetryError(TelemetryCodes.EXPORTER_URL, `trace collector URL must be http or https: ${options.url}`);
    }
    this.url = u;
    this.maxQueue = options.maxQueue ?? 4096;
    this.maxBatch = options.maxBatch ?? 512;
    this.timeoutMs = options.timeoutMs ?? 2000;
    const mod = u.protocol === 'https:' ? createRequire(import.meta.url)('node:https') as typeof Https : createRequire(import.meta.url)('node:http') as typeof Http;
    this.mod = mod;
    this.agent = new mod.Agent({ keepAlive: true, maxSockets: 1 });
    this.timer = setInterval(() => void this.flush(), options.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Queues a span (or counts a drop). Never blocks, never throws. */
  add(span: SpanData): void {
    if (this.closed || this.queue.length >= this.maxQueue) {
      this.stats.dropped++;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.maxBatch && !this.scheduled && !this.inFlight) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.flush();
      });
    }
  }

  /** Spans waiting to be sent. */
  get queued(): number {
    return this.queue.length;
  }

  /** Sends queued spans (one batch at a time) until the queue is empty or a POST fails. */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      const p = this.send(batch);
      this.inFlight = p;
      const ok = await p;
      this.inFlight = undefined;
      if (!ok) return;
    }
  }

  private send(batch: SpanData[]): Promise<boolean> {
    const body = this.options.format === 'zipkin' ? encodeZipkin(batch) : encodeOtlp(batch);
    const mod = this.mod;
    return new Promise<boolean>((resolve) => {
      let settled = false;
      // The deadline settles every POST, whatever the socket does (hang, half-close, reset).
      const deadline = setTimeout(() => {
        req.destroy();
        done(false);
      }, this.timeoutMs);
      deadline.unref();
      const done = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (ok) this.stats.exported += batch.length;
        else {
          this.stats.failed += batch.length;
          this.stats.failedRequests++;
        }
        resolve(ok);
      };
      const req = mod.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.on('error', () => done(false));
          res.on('aborted', () => done(false));
          res.on('end', () => done(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300));
          res.resume();
        },
      );
      req.on('error', () => done(false));
      req.end(body);
    });
  }

  /** Sends what is queued (best effort) and stops the timer; later spans count as dropped. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    this.closed = true;
    this.agent.destroy();
  }
}
