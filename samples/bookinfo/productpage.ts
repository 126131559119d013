// Bookinfo's product page: an HTML page and a JSON API over details, reviews and ratings.
// Calls to details and reviews give up after 3 s and are tried twice (about 6 s in all),
// the behaviour Istio's fault-injection walkthrough exposes.
import type http from 'node:http';
import { runApp, isMain, sendJson, requestUrl, readBody, HttpError, type Handler } from '../app/serve.js';
import { call, forwardedHeaders, serviceUrl, type Timers } from '../app/outbound.js';
import { productId } from './details.js';
import { Sessions, validUser } from './productpage/session.js';
import { PRODUCT, DETAILS_UNAVAILABLE, REVIEWS_UNAVAILABLE, STYLESHEET, renderProductPage, renderIndex } from './productpage/page.js';

/** How a product page instance is set up (from flags and env). */
export interface ProductPageOptions {
  detailsUrl: string;
  reviewsUrl: string;
  ratingsUrl: string;
  /** Per attempt, for details and reviews (3000 like Istio's page). */
  timeoutMs: number;
  /** Attempts in all for details and reviews (2 like Istio's page). */
  attempts: number;
  sessionSecret?: string;
  env?: NodeJS.ProcessEnv;
  /** The timers of the per-attempt timeout (default the process's; tests move time by hand). */
  timers?: Timers;
}

/** The text of the ratings API's failure reply. */
export const RATINGS_UNAVAILABLE_PAGE = 'Sorry, product ratings are currently unavailable for this book.';

type Fetched = { status: number; json?: Record<string, unknown> };

/** The product page's request handler. */
export function productPageHandler(opts: ProductPageOptions): Handler {
  const sessions = new Sessions(opts.sessionSecret);

  const fetchJson = async (base: string, path: string, headers: Record<string, string>, attempts: number): Promise<Fetched> => {
    const result = await call(new URL(path, base), { headers, timeoutMs: opts.timeoutMs, attempts, env: opts.env, ...(opts.timers ? { timers: opts.timers } : {}) });
    if (!result.ok) return { status: result.reply?.status || 500 };
    try {
      const json = JSON.parse(result.reply.body.toString('utf8')) as unknown;
      if (json && typeof json === 'object' && !Array.isArray(json)) return { status: result.reply.status, json: json as Record<string, unknown> };
    } catch {}
    return { status: 500 };
  };

  const outboundHeaders = (req: http.IncomingMessage): Record<string, string> => {
    const headers = forwardedHeaders(req);
    const user = sessions.user(req.headers.cookie);
    if (user) headers['end-user'] = user;
    return headers;
  };

  const details = (req: http.IncomingMessage, id: number) => fetchJson(opts.detailsUrl, `/details/${id}`, outboundHeaders(req), opts.attempts);
  const reviews = (req: http.IncomingMessage, id: number) => fetchJson(opts.reviewsUrl, `/reviews/${id}`, outboundHeaders(req), opts.attempts);

  const html = (res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
  const redirect = (res: http.ServerResponse, cookie: string) => {
    res.writeHead(302, { location: '/productpage', 'set-cookie': cookie, 'content-length': 0 });
    res.end();
  };

  return async (req, res) => {
    const url = requestUrl(req);
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/login') {
      if (method !== 'POST') throw new HttpError(405, 'use POST /login with form fields username and passwd');
      const form = new URLSearchParams((await readBody(req, 16 << 10)).toString('utf8'));
      const user = form.get('username')?.trim() ?? '';
      if (!validUser(user)) throw new HttpError(400, 'username must be 1-64 letters, digits or . @ + - _');
      return redirect(res, sessions.signIn(user));
    }
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    if (path === '/logout') return redirect(res, sessions.signOut());
    if (path === '/') return html(res, 200, renderIndex());
    if (path === '/health') return sendJson(res, 200, { status: 'Productpage is healthy' });
    if (path === '/static/bookinfo.css') {
      res.writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'content-length': Buffer.byteLength(STYLESHEET), 'cache-control': 'max-age=300' });
      return void res.end(STYLESHEET);
    }
    if (path === '/productpage') {
      const [d, r] = await Promise.all([details(req, PRODUCT.id), reviews(req, PRODUCT.id)]);
      return html(res, 200, renderProductPage({ user: sessions.user(req.headers.cookie), details: d.json, reviews: r.json }));
    }
    if (path === '/api/v1/products') return sendJson(res, 200, [{ id: PRODUCT.id, title: PRODUCT.title, descriptionHtml: PRODUCT.descriptionHtml }]);
    const m = /^\/api\/v1\/products\/([^/]*)(?:\/(reviews|ratings))?$/.exec(path);
    if (m) {
      const id = productId(m[1]!);
      if (m[2] === 'ratings') {
        const f = await fetchJson(opts.ratingsUrl, `/ratings/${id}`, outboundHeaders(req), 1);
        return sendJson(res, f.status, f.json ?? { error: RATINGS_UNAVAILABLE_PAGE });
      }
      const f = m[2] === 'reviews' ? await reviews(req, id) : await details(req, id);
      return sendJson(res, f.status, f.json ?? { error: m[2] === 'reviews' ? REVIEWS_UNAVAILABLE : DETAILS_UNAVAILABLE });
    }
    throw new HttpError(404, 'not found');
  };
}

/** Reads the product page options from flags and env (DETAILS_URL, REVIEWS_URL, RATINGS_URL, UPSTREAM_TIMEOUT_MS, UPSTREAM_ATTEMPTS, SESSION_SECRET). */
export function productPageOptions(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): ProductPageOptions {
  const positive = (name: string, fallback: number) => {
    const v = env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
    if (!(v > 0)) throw new Error(`${name} must be a positive number, got "${env[name]}"`);
    return v;
  };
  return {
    detailsUrl: serviceUrl('--details-url / DETAILS_URL', String(values['details-url'] ?? env.DETAILS_URL ?? 'http://details:9080')),
    reviewsUrl: serviceUrl('--reviews-url / REVIEWS_URL', String(values['reviews-url'] ?? env.REVIEWS_URL ?? 'http://reviews:9080')),
    ratingsUrl: serviceUrl('--ratings-url / RATINGS_URL', String(values['ratings-url'] ?? env.RATINGS_URL ?? 'http://ratings:9080')),
    timeoutMs: positive('UPSTREAM_TIMEOUT_MS', 3000),
    attempts: Math.floor(positive('UPSTREAM_ATTEMPTS', 2)),
    sessionSecret: env.SESSION_SECRET || undefined,
    env,
  };
}

if (isMain(import.meta.url)) {
  void runApp({
    name: 'productpage',
    defaultPort: 9080,
    usage: '[--details-url URL] [--reviews-url URL] [--ratings-url URL]',
    options: { 'details-url': { type: 'string' }, 'reviews-url': { type: 'string' }, 'ratings-url': { type: 'string' } },
    create: (values) => productPageHandler(productPageOptions(values)),
  });
}
