// An httpbin-like service for mesh walkthroughs: it echoes what it received.
// `/headers`, `/ip`, `/get`, `/anything[/...]`, `/status/:code`, `/delay/:s` (at most 10 s).
import type http from 'node:http';
import { runApp, isMain, sendJson, requestUrl, readBody, HttpError, type Handler } from '../app/serve.js';
import { realTimers, type Timers } from '../app/outbound.js';

/** The longest `/delay/:s` waits, in seconds. */
export const MAX_DELAY_S = 10;

/** A header name as httpbin prints it: `x-b3-traceid` -> `X-B3-Traceid`. */
export function titleCase(name: string): string {
  return name.split('-').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('-');
}

/** The request's headers, title-cased, repeated values joined with commas. */
export function echoHeaders(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = titleCase(req.rawHeaders[i]!.toLowerCase());
    const value = req.rawHeaders[i + 1]!;
    out[name] = out[name] === undefined ? value : `${out[name]},${value}`;
  }
  return out;
}

function origin(req: http.IncomingMessage): string {
  const xff = req.headers['x-forwarded-for'];
  const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
  return first || (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

function args(url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function fullUrl(req: http.IncomingMessage, url: URL): string {
  return `http://${req.headers.host ?? 'localhost'}${url.pathname}${url.search}`;
}

/** The httpbin service's request handler; `timers` time `/delay/:s` (default the process's; tests move time by hand). */
export function httpbinHandler(opts: { timers?: Timers } = {}): Handler {
  const timers = opts.timers ?? realTimers;
  return async (req, res) => {
    const url = requestUrl(req);
    const path = url.pathname;
    if (path === '/' || path === '/health') return sendJson(res, 200, { status: 'httpbin is healthy' });
    if (path === '/headers') return sendJson(res, 200, { headers: echoHeaders(req) });
    if (path === '/ip') return sendJson(res, 200, { origin: origin(req) });
    if (path === '/get') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
      return sendJson(res, 200, { args: args(url), headers: echoHeaders(req), origin: origin(req), url: fullUrl(req, url) });
    }
    if (path === '/anything' || path.startsWith('/anything/')) {
      const body = await readBody(req);
      const text = body.toString('utf8');
      let json: unknown = null;
      const type = String(req.headers['content-type'] ?? '');
      if (type.includes('json') && text) {
        try { json = JSON.parse(text); } catch { throw new HttpError(400, 'body is not valid JSON'); }
      }
      const form = type.includes('application/x-www-form-urlencoded') ? Object.fromEntries(new URLSearchParams(text)) : {};
      return sendJson(res, 200, {
        args: args(url), data: type.includes('x-www-form-urlencoded') ? '' : text, files: {}, form, headers: echoHeaders(req),
        json, method: req.method, origin: origin(req), url: fullUrl(req, url),
      });
    }
    let m = /^\/status\/([^/]+)$/.exec(path);
    if (m) {
      const code = Number(m[1]);
      if (!/^\d{3}$/.test(m[1]!) || code < 200 || code > 599) throw new HttpError(400, 'status code must be 200-599');
      res.writeHead(code, { 'content-length': 0 });
      return void res.end();
    }
    m = /^\/delay\/([^/]+)$/.exec(path);
    if (m) {
      const s = Number(m[1]);
      if (!/^\d+(\.\d+)?$/.test(m[1]!) || !Number.isFinite(s)) throw new HttpError(400, 'delay must be a number of seconds');
      const ms = Math.min(s, MAX_DELAY_S) * 1000;
      await new Promise<void>((resolve) => {
        const t = timers.setTimeout(resolve, ms);
        res.once('close', () => { timers.clearTimeout(t); resolve(); });
      });
      if (res.destroyed || res.writableEnded) return;
      return sendJson(res, 200, { args: args(url), headers: echoHeaders(req), origin: origin(req), url: fullUrl(req, url) });
    }
    throw new HttpError(404, 'not found');
  };
}

if (isMain(import.meta.url)) void runApp({ name: 'httpbin', defaultPort: 8000, create: () => httpbinHandler() });
