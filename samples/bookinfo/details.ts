// Bookinfo's details service: `GET /details/:id` answers the book's publication details.
import { runApp, isMain, sendJson, requestUrl, HttpError, type Handler } from '../app/serve.js';

/** The details of product `id` as Bookinfo's details service answers them. */
export function bookDetails(id: number) {
  return {
    id,
    author: 'William Shakespeare',
    year: 1595,
    type: 'paperback',
    pages: 200,
    publisher: 'PublisherA',
    language: 'English',
    'ISBN-10': '1234567890',
    'ISBN-13': '123-1234567890',
  };
}

/** Parses a product id path segment; a non-integer is a 400. */
export function productId(segment: string): number {
  if (!/^\d{1,9}$/.test(segment)) throw new HttpError(400, 'please provide numeric product ID');
  return Number(segment);
}

/** The details service's request handler. */
export function detailsHandler(): Handler {
  return (req, res) => {
    const url = requestUrl(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'Details is healthy' });
    const m = /^\/details\/([^/]*)$/.exec(url.pathname);
    if (m) return sendJson(res, 200, bookDetails(productId(m[1]!)));
    throw new HttpError(404, 'not found');
  };
}

if (isMain(import.meta.url)) void runApp({ name: 'details', defaultPort: 9080, create: () => detailsHandler() });
