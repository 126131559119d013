// Outbound HTTP calls of the sample apps: direct, or through the app's sidecar when
// HTTP_PROXY is set (absolute-form request line `GET http://details:9080/details/0 HTTP/1.1`).
import http from 'node:http';

/** The reply to one outbound call. */
export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** What one outbound call needs. */
export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Gives up on an attempt after this long (the whole response, not just the connect). */
  timeoutMs: number;
  /** How many attempts in all; a failed attempt (error, timeout or non-2xx reply) is retried. */
  attempts?: number;
  /** The environment to read HTTP_PROXY / NO_PROXY from (tests inject their own). */
  env?: NodeJS.ProcessEnv;
  /** The timers of the per-attempt timeout (tests inject their own, to move time by hand). */
  timers?: Timers;
}

/** Where a timeout's timer comes from. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process's own timers. */
export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

// Idle pooled sockets close after 4 s, before a server's usual 5 s keep-alive timeout can race a reuse.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 4000 });

/** The proxy URL to use for `target` per HTTP_PROXY / http_proxy and NO_PROXY, or undefined for direct. */
export function proxyFor(target: URL, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const proxy = env.HTTP_PROXY || env.http_proxy;
  if (!proxy) return undefined;
  const noProxy = (env.NO_PROXY || env.no_proxy || '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const host = target.hostname.toLowerCase();
  if (noProxy.some((n) => n === '*' || host === n.replace(/^\./, '') || host.endsWith(n.startsWith('.') ? n : '.' + n))) return undefined;
  return new URL(proxy.includes('://') ? proxy : `http://${proxy}`);
}

/** One attempt: resolves to the reply, rejects on a connection error or after `timeoutMs`. */
export function request(target: URL, opts: CallOptions): Promise<Reply> {
  const proxy = proxyFor(target, opts.env);
  const headers: Record<string, string> = { ...opts.headers, host: target.host };
  if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
  const timers = opts.timers ?? realTimers;
  return new Promise((resolve, reject) => {
    const req = http.request({
      agent,
      host: proxy ? proxy.hostname.replace(/^\[|\]$/g, '') : target.hostname.replace(/^\[|\]$/g, ''),
      port: proxy ? (proxy.port || 80) : (target.port || 80),
      method: opts.method ?? 'GET',
      path: proxy ? target.href : target.pathname + target.search,
      headers,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { timers.clearTimeout(timer); resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }); });
      res.on('error', (err) => { timers.clearTimeout(timer); reject(err); });
    });
    const timer = timers.setTimeout(() => req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('error', (err) => { timers.clearTimeout(timer); reject(err); });
    req.end(opts.body);
  });
}

/** Calls `target` up to `attempts` times; resolves to the first 2xx reply, else the last reply or error. */
export async function call(target: URL, opts: CallOptions): Promise<{ ok: true; reply: Reply } | { ok: false; reply?: Reply; error?: Error }> {
  let last: { ok: false; reply?: Reply; error?: Error } = { ok: false };
  for (let i = 0; i < Math.max(1, opts.attempts ?? 1); i++) {
    try {
      const reply = await request(target, opts);
      if (reply.status >= 200 && reply.status < 300) return { ok: true, reply };
      last = { ok: false, reply };
    } catch (err) {
      last = { ok: false, error: err as Error };
    }
  }
  return last;
}

/** The headers a Bookinfo app copies from its inbound request to its outbound calls (trace context and identity). */
export const FORWARDED_HEADERS = [
  'x-request-id',
  'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3',
  'traceparent', 'tracestate',
  'x-ot-span-context',
  'user-agent', 'cookie', 'authorization',
] as const;

/** Picks the forwarded headers out of an inbound request. */
export function forwardedHeaders(req: http.IncomingMessage, extra: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...FORWARDED_HEADERS, ...extra]) {
    const v = req.headers[name];
    if (typeof v === 'string') out[name] = v;
    else if (Array.isArray(v)) out[name] = v.join(name === 'cookie' ? '; ' : ', ');
  }
  return out;
}

/** Checks a service base URL from a flag or env (`http://details:9080`); throws a message naming `what`. */
export function serviceUrl(what: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${what} must be an http:// URL, got "${value}"`);
  }
  if (url.protocol !== 'http:') throw new Error(`${what} must be an http:// URL, got "${value}"`);
  return url.href;
}
