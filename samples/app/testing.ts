// Starting sample apps and stub servers in-process on port 0, for the samples' own tests.
import http from 'node:http';
import { createAppServer, listen, shutdown, type Handler } from './serve.js';
import type { Timers } from './outbound.js';

/** A started app: its base URL, the log lines it wrote, and how to stop it. */
export interface Running {
  url: string;
  port: number;
  logs: string[];
  close(): Promise<void>;
}

/** Starts `handler` behind the sample app shell on 127.0.0.1:0. */
export async function startApp(name: string, handler: Handler): Promise<Running> {
  const logs: string[] = [];
  const server = createAppServer(name, handler, (l) => logs.push(l));
  const port = await listen(server, 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}`, port, logs, close: () => shutdown(server, 100) };
}

/** A plain HTTP GET/POST from a test: status, headers and body text. */
export async function get(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Timers moved by hand: nothing fires until `fire()`; `fired` lists the delays that ran out. */
export class HandTimers implements Timers {
  readonly pending = new Map<number, { fn: () => void; ms: number }>();
  readonly fired: number[] = [];
  private seq = 0;
  setTimeout(fn: () => void, ms: number): unknown {
    this.pending.set(++this.seq, { fn, ms });
    return this.seq;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Lets the one pending timer run out. */
  fire(): void {
    const [[id, t]] = [...this.pending];
    this.pending.delete(id!);
    this.fired.push(t!.ms);
    t!.fn();
  }
}
