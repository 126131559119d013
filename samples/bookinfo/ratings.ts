// Bookinfo's ratings service: `GET /ratings/:id` answers each reviewer's stars; `POST` replaces them.
import { runApp, isMain, sendJson, requestUrl, readBody, HttpError, type Handler } from '../app/serve.js';
import { productId } from './details.js';

/** The ratings every product starts with. */
export const DEFAULT_RATINGS: Readonly<Record<string, number>> = { Reviewer1: 5, Reviewer2: 4 };

/** The ratings service's request handler; ratings posted are kept in memory per product. */
export function ratingsHandler(): Handler {
  const posted = new Map<number, Record<string, number>>();
  return async (req, res) => {
    const url = requestUrl(req);
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'Ratings is healthy' });
    const m = /^\/ratings\/([^/]*)$/.exec(url.pathname);
    if (!m) throw new HttpError(404, 'not found');
    const id = productId(m[1]!);
    if (req.method === 'POST') {
      let body: unknown;
      try {
        body = JSON.parse((await readBody(req, 64 << 10)).toString('utf8'));
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw new HttpError(400, 'please provide valid ratings JSON');
      }
      const entries = body && typeof body === 'object' && !Array.isArray(body) ? Object.entries(body) : [];
      if (entries.length === 0 || entries.some(([k, v]) => !/^\w{1,64}$/.test(k) || !Number.isInteger(v) || (v as number) < 1 || (v as number) > 5)) {
        throw new HttpError(400, 'please provide valid ratings JSON: {"Reviewer1": 1-5, ...}');
      }
      posted.set(id, Object.fromEntries(entries) as Record<string, number>);
      return sendJson(res, 200, { id, ratings: posted.get(id) });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    return sendJson(res, 200, { id, ratings: posted.get(id) ?? DEFAULT_RATINGS });
  };
}

if (isMain(import.meta.url)) void runApp({ name: 'ratings', defaultPort: 9080, create: () => ratingsHandler() });
