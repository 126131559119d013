import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { startApp, get, HandTimers, type Running } from '../app/testing.js';
import { detailsHandler } from './details.js';
import { ratingsHandler } from './ratings.js';
import { reviewsHandler, RATINGS_UNAVAILABLE } from './reviews.js';
import { productPageHandler, type ProductPageOptions } from './productpage.js';
import { waitFor } from '../../test/support/wait.js';
import { DETAILS_UNAVAILABLE, REVIEWS_UNAVAILABLE } from './productpage/page.js';

const running: Running[] = [];
const servers: http.Server[] = [];
async function app(name: string, h: Parameters<typeof startApp>[1]) {
  const r = await startApp(name, h);
  running.push(r);
  return r;
}
/** A stub upstream that records each request's headers and answers with `reply` (or never, for 'hang'). */
async function stub(reply: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | 'hang') {
  const seen: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req);
    if (reply !== 'hang') reply(req, res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
  for (const s of servers.splice(0)) { s.closeAllConnections(); s.close(); }
});

const noProxy: NodeJS.ProcessEnv = {};

/**
 * Resolves `request`, whose calls to the hanging upstream time out: each time the upstream holds the next
 * attempt (up to `until` in all) and that attempt's timeout is the only one pending (details has answered),
 * its time runs out.
 */
async function timedOut<T>(request: Promise<T>, hang: { seen: unknown[] }, timers: HandTimers, until: number): Promise<T> {
  for (let k = hang.seen.length + 1; k <= until; k++) {
    await waitFor(() => hang.seen.length === k && timers.pending.size === 1, { what: `attempt ${k} at the hanging upstream, its timeout the only one pending` });
    timers.fire();
  }
  return request;
}
async function bookinfo(version: 'v1' | 'v2' | 'v3', opts: Partial<ProductPageOptions> = {}) {
  const ratings = await app('ratings', ratingsHandler());
  const details = await app('details', detailsHandler());
  const reviews = await app('reviews', reviewsHandler({ version, ratingsUrl: ratings.url, podName: `reviews-${version}-1`, clusterName: 'N/A', env: noProxy }));
  const page = await app('productpage', productPageHandler({
    detailsUrl: details.url, reviewsUrl: reviews.url, ratingsUrl: ratings.url, timeoutMs: 3000, attempts: 2, env: noProxy, ...opts,
  }));
  return { ratings, details, reviews, page };
}

describe('details and ratings', () => {
  it('details answers the book as Bookinfo does, and 400 for a non-numeric id', async () => {
    const d = await app('details', detailsHandler());
    const r = await get(`${d.url}/details/0`);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({
      id: 0, author: 'William Shakespeare', year: 1595, type: 'paperback', pages: 200,
      publisher: 'PublisherA', language: 'English', 'ISBN-10': '1234567890', 'ISBN-13': '123-1234567890',
    });
    expect((await get(`${d.url}/details/abc`)).status).toBe(400);
    expect((await get(`${d.url}/details/%zz`)).status).toBe(400);
    expect((await get(`${d.url}/nope`)).status).toBe(404);
    expect(JSON.parse((await get(`${d.url}/health`)).text)).toEqual({ status: 'Details is healthy' });
    expect(d.logs.filter((l) => l.includes(' GET /details/0 200 '))).toHaveLength(1);
  });

  it('ratings answers both reviewers, accepts posted ratings and refuses bad JSON with 400', async () => {
    const r = await app('ratings', ratingsHandler());
    expect(JSON.parse((await get(`${r.url}/ratings/0`)).text)).toEqual({ id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
    expect((await get(`${r.url}/ratings/0`, { method: 'POST', body: '{not json' })).status).toBe(400);
    expect((await get(`${r.url}/ratings/0`, { method: 'POST', body: '{"Reviewer1": 9}' })).status).toBe(400);
    expect((await get(`${r.url}/ratings/0`, { method: 'POST', body: '{"Reviewer1": 2, "Reviewer2": 3}' })).status).toBe(200);
    expect(JSON.parse((await get(`${r.url}/ratings/0`)).text).ratings).toEqual({ Reviewer1: 2, Reviewer2: 3 });
  });
});

describe('reviews versions', () => {
  it('v1 has no ratings, v2 black stars, v3 red stars', async () => {
    const ratings = await app('ratings', ratingsHandler());
    for (const [version, color] of [['v1', undefined], ['v2', 'black'], ['v3', 'red']] as const) {
      const rv = await app('reviews', reviewsHandler({ version, ratingsUrl: ratings.url, podName: `reviews-${version}-x`, clusterName: 'N/A', env: noProxy }));
      const body = JSON.parse((await get(`${rv.url}/reviews/0`)).text);
      expect(body).toMatchObject({ id: '0', podname: `reviews-${version}-x`, clustername: 'N/A' });
      expect(body.reviews.map((r: { reviewer: string }) => r.reviewer)).toEqual(['Reviewer1', 'Reviewer2']);
      if (!color) expect(body.reviews.every((r: object) => !('rating' in r))).toBe(true);
      else expect(body.reviews.map((r: { rating: unknown }) => r.rating)).toEqual([{ stars: 5, color }, { stars: 4, color }]);
    }
  });

  it('says ratings are unavailable when ratings fails, and forwards end-user and trace headers to ratings', async () => {
    const failing = await stub((_req, res) => { res.writeHead(500); res.end(); });
    const rv = await app('reviews', reviewsHandler({ version: 'v2', ratingsUrl: failing.url, podName: 'p', clusterName: 'c', env: noProxy }));
    const body = JSON.parse((await get(`${rv.url}/reviews/0`, { headers: { 'end-user': 'jason', 'x-request-id': 'rid-1', 'x-b3-traceid': 'abc', traceparent: '00-1-2-01' } })).text);
    expect(body.reviews[0].rating).toEqual({ error: RATINGS_UNAVAILABLE });
    const h = failing.seen[0]!.headers;
    expect([h['end-user'], h['x-request-id'], h['x-b3-traceid'], h.traceparent]).toEqual(['jason', 'rid-1', 'abc', '00-1-2-01']);
  });

  it('v3 gives up on a slow ratings after its timeout', async () => {
    const hang = await stub('hang');
    const timers = new HandTimers();
    const rv = await app('reviews', reviewsHandler({ version: 'v3', ratingsUrl: hang.url, podName: 'p', clusterName: 'c', ratingsTimeoutMs: 200, env: noProxy, timers }));
    const body = JSON.parse((await timedOut(get(`${rv.url}/reviews/0`), hang, timers, 1)).text);
    expect(timers.fired).toEqual([200]); // it answered when its 200 ms ran out, and nothing else waited
    expect(body.reviews[1].rating).toEqual({ error: RATINGS_UNAVAILABLE });
  });
});

describe('productpage', () => {
  it('renders the book, its details and the reviews with stars as served', async () => {
    const { page } = await bookinfo('v2');
    const r = await get(`${page.url}/productpage`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toContain('text/html');
    expect(r.text).toContain('The Comedy of Errors');
    expect(r.text).toContain('William Shakespeare');
    expect(r.text).toContain('123-1234567890');
    expect(r.text).toMatch(/class="stars stars-black"[^>]*style="color: black"[^>]*>★★★★★/);
    expect(r.text).toContain('reviews-v2-1');
    expect(r.text).toContain('id="login-form"');
    const css = await get(`${page.url}/static/bookinfo.css`);
    expect([css.status, css.headers['content-type']]).toEqual([200, 'text/css; charset=utf-8']);
  });

  it('serves the product API, passing reviews JSON through as is', async () => {
    const { page, reviews } = await bookinfo('v3');
    expect(JSON.parse((await get(`${page.url}/api/v1/products`)).text)[0]).toMatchObject({ id: 0, title: 'The Comedy of Errors' });
    expect(JSON.parse((await get(`${page.url}/api/v1/products/0`)).text).author).toBe('William Shakespeare');
    expect((await get(`${page.url}/api/v1/products/0/reviews`)).text).toBe((await get(`${reviews.url}/reviews/0`)).text);
    expect(JSON.parse((await get(`${page.url}/api/v1/products/0/ratings`)).text)).toEqual({ id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
    expect((await get(`${page.url}/api/v1/products/zero`)).status).toBe(400);
    expect((await get(`${page.url}/health`)).status).toBe(200);
  });

  it('signs in through the form (cookie set, end-user forwarded) and out again (cookie cleared)', async () => {
    const details = await stub((_req, res) => { res.setHeader('content-type', 'application/json'); res.end('{"id":0,"author":"A"}'); });
    const reviews = await stub((_req, res) => { res.end('{"id":"0","podname":"p","reviews":[]}'); });
    const page = await app('productpage', productPageHandler({ detailsUrl: details.url, reviewsUrl: reviews.url, ratingsUrl: details.url, timeoutMs: 1000, attempts: 2, env: noProxy }));

    const login = await get(`${page.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=jason&passwd=anything' });
    expect(login.status).toBe(302);
    expect(login.headers.location).toBe('/productpage');
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect(cookie).toMatch(/^session=.+/);

    const signedIn = await get(`${page.url}/productpage`, { headers: { cookie, 'x-request-id': 'r-7', 'x-b3-traceid': 't', 'x-b3-spanid': 's', 'x-b3-sampled': '1', b3: 't-s-1', tracestate: 'k=v', 'user-agent': 'ua/1' } });
    expect(signedIn.text).toContain('<strong id="signed-in-user">jason</strong>');
    expect(signedIn.text).toContain('id="sign-out"');
    for (const seen of [details.seen.at(-1)!, reviews.seen.at(-1)!]) {
      expect(seen.headers).toMatchObject({ 'end-user': 'jason', 'x-request-id': 'r-7', 'x-b3-traceid': 't', 'x-b3-spanid': 's', 'x-b3-sampled': '1', b3: 't-s-1', tracestate: 'k=v', 'user-agent': 'ua/1', cookie });
    }

    const logout = await get(`${page.url}/logout`, { headers: { cookie } });
    expect(logout.status).toBe(302);
    expect(String(logout.headers['set-cookie'])).toMatch(/^session=;.*Max-Age=0/);
    const anonymous = await get(`${page.url}/productpage`);
    expect(anonymous.text).toContain('id="login-form"');
    expect(reviews.seen.at(-1)!.headers['end-user']).toBeUndefined();

    const forged = await get(`${page.url}/productpage`, { headers: { cookie: cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) } });
    expect(forged.text).toContain('id="login-form"');
    expect((await get(`${page.url}/login`, { method: 'POST', body: 'passwd=x' })).status).toBe(400);
    expect((await get(`${page.url}/login`, { method: 'POST', body: 'username=%3Cscript%3E' })).status).toBe(400);
  });

  it('gives up on a hanging reviews after timeout and one retry, showing the unavailable message', async () => {
    const hang = await stub('hang');
    const details = await app('details', detailsHandler());
    const timers = new HandTimers();
    const page = await app('productpage', productPageHandler({ detailsUrl: details.url, reviewsUrl: hang.url, ratingsUrl: details.url, timeoutMs: 300, attempts: 2, env: noProxy, timers }));
    const r = await timedOut(get(`${page.url}/productpage`), hang, timers, 2);
    expect(timers.fired).toEqual([300, 300]); // each attempt gave up after its 300 ms, and nothing else waited
    expect(hang.seen).toHaveLength(2);
    expect(r.text).toContain(REVIEWS_UNAVAILABLE);
    expect(r.text).toContain('William Shakespeare');
    const api = await timedOut(get(`${page.url}/api/v1/products/0/reviews`), hang, timers, 4);
    expect([api.status, JSON.parse(api.text)]).toEqual([500, { error: REVIEWS_UNAVAILABLE }]);
  });

  it('with the real defaults (3 s, 2 attempts) a hanging reviews costs about 6 s', async () => {
    const hang = await stub('hang');
    const details = await app('details', detailsHandler());
    const timers = new HandTimers();
    const page = await app('productpage', productPageHandler({ detailsUrl: details.url, reviewsUrl: hang.url, ratingsUrl: details.url, timeoutMs: 3000, attempts: 2, env: noProxy, timers }));
    const r = await timedOut(get(`${page.url}/productpage`), hang, timers, 2);
    expect(timers.fired).toEqual([3000, 3000]);
    expect(r.text).toContain(REVIEWS_UNAVAILABLE);
  });

  it('passes an upstream error status through the API and shows the details message', async () => {
    const abort = await stub((_req, res) => { res.writeHead(555); res.end('fault filter abort'); });
    const reviews = await stub((_req, res) => { res.end('{"id":"0","podname":"p","reviews":[]}'); });
    const page = await app('productpage', productPageHandler({ detailsUrl: abort.url, reviewsUrl: reviews.url, ratingsUrl: abort.url, timeoutMs: 1000, attempts: 2, env: noProxy }));
    const api = await get(`${page.url}/api/v1/products/0`);
    expect([api.status, JSON.parse(api.text)]).toEqual([555, { error: DETAILS_UNAVAILABLE }]);
    expect((await get(`${page.url}/productpage`)).text).toContain(DETAILS_UNAVAILABLE);
  });

  it('sends absolute-form requests to HTTP_PROXY with the service as Host', async () => {
    const proxy = await stub((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(req.url!.includes('/details/') ? '{"id":0,"author":"Via Proxy"}' : '{"id":"0","podname":"p","reviews":[]}');
    });
    const page = await app('productpage', productPageHandler({
      detailsUrl: 'http://details:9080', reviewsUrl: 'http://reviews:9080', ratingsUrl: 'http://ratings:9080', timeoutMs: 1000, attempts: 2, env: { HTTP_PROXY: proxy.url },
    }));
    expect((await get(`${page.url}/productpage`)).text).toContain('Via Proxy');
    const lines = proxy.seen.map((r) => `${r.method} ${r.url} host=${r.headers.host}`).sort();
    expect(lines).toEqual(['GET http://details:9080/details/0 host=details:9080', 'GET http://reviews:9080/reviews/0 host=reviews:9080']);
  });
});
