/**
 * A small Marathon REST client: JSON GETs and the `/v2/events` server-sent event stream, with
 * DC/OS authentication (`Authorization: token=...`) from a token file re-read when it changes.
 */
import { readFileSync, statSync } from 'node:fs';
import { createParser } from 'eventsource-parser';
import type { MarathonEvent } from './types.js';

/** A failed Marathon call: the HTTP status (0 when unreachable) and what Marathon said. */
export class MarathonError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'MarathonError';
  }
}

/** Where Marathon is and how to authenticate. */
export interface MarathonClientOptions {
  /** Base URL, e.g. http://marathon.mesos:8080 or https://DCOS/service/marathon. */
  url: string;
  /** DC/OS service-account token file; re-read whenever its modification time changes. */
  tokenFile?: string;
  /** Per-request timeout for JSON calls (default 10 s). */
  timeoutMs?: number;
}

/** Talks to one Marathon. */
export class MarathonClient {
  private readonly base: string;
  private token: { mtimeMs: number; value: string } | undefined;

  constructor(private readonly opts: MarathonClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
  }

  /** The base URL (for messages). */
  get url(): string {
    return this.base;
  }

  private headers(accept: string): Record<string, string> {
    const h: Record<string, string> = { accept };
    const file = this.opts.tokenFile;
    if (file) {
      const st = statSync(file, { throwIfNoEntry: false });
      if (!st) throw new MarathonError(0, `token file ${file} does not exist (--marathon-token-file)`);
      if (!this.token || this.token.mtimeMs !== st.mtimeMs) this.token = { mtimeMs: st.mtimeMs, value: readFileSync(file, 'utf8').trim() };
      h['authorization'] = `token=${this.token.value}`;
    }
    return h;
  }

  /** GETs `path` as JSON; undefined for 404 (the object is gone). */
  async getJson<T>(path: string): Promise<T | undefined> {
    let res: Response;
    try {
      res = await fetch(this.base + path, { headers: this.headers('application/json'), signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000) });
    } catch (err) {
      throw new MarathonError(0, `GET ${this.base}${path}: ${causeOf(err)}`);
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    const text = await res.text();
    if (!res.ok) throw new MarathonError(res.status, `GET ${this.base}${path}: HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new MarathonError(res.status, `GET ${this.base}${path}: the answer is not JSON`);
    }
  }

  /**
   * Reads the event stream until it ends or `signal` aborts; calls `onEvent` for each event
   * (`onAttached` once the stream is open). Resolves when the stream ends, rejects when it fails.
   */
  async events(signal: AbortSignal, onAttached: () => void, onEvent: (e: MarathonEvent) => void): Promise<void> {
    let res: Response;
    try {
      res = await fetch(`${this.base}/v2/events`, { headers: this.headers('text/event-stream'), signal });
    } catch (err) {
      throw new MarathonError(0, `GET ${this.base}/v2/events: ${causeOf(err)}`);
    }
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => '');
      throw new MarathonError(res.status, `GET ${this.base}/v2/events: HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
    }
    onAttached();
    const parser = createParser({
      onEvent: (ev) => {
        let data: MarathonEvent;
        try {
          data = JSON.parse(ev.data) as MarathonEvent;
        } catch {
          return; // a line Marathon did not mean as JSON: nothing to invalidate
        }
        if (!data.eventType && ev.event) data.eventType = ev.event;
        onEvent(data);
      },
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch (err) {
      if (signal.aborted) return;
      throw new MarathonError(0, `event stream from ${this.base} broke: ${causeOf(err)}`);
    }
  }
}

function causeOf(err: unknown): string {
  const e = err as { cause?: { code?: string; message?: string }; message?: string };
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}
