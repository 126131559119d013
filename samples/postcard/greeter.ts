// The postcard sample's greeter: `GET /greeter` renders a postcard with the message it gets from
// messenger (`--messenger URL`, env MESSENGER_URL, default http://messenger.default.svc.cluster.local:8080),
// through its sidecar when HTTP_PROXY is set; when messenger cannot be reached the postcard says so.
import { call, serviceUrl } from '../app/outbound.js';
import { HttpError, isMain, requestUrl, runApp, sendJson, type Handler } from '../app/serve.js';
import type { Message } from './messenger.js';

/** What the postcard says when messenger does not answer. */
export const UNAVAILABLE = 'Sorry, the messenger is currently unavailable.';

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The postcard page for a message (or the unavailable text). */
export function postcardPage(m: Message | undefined): string {
  const text = m ? escape(m.message) : UNAVAILABLE;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Postcard</title>
<style>body{font-family:Georgia,serif;background:#e9e4d8}.card{margin:3em auto;max-width:36em;padding:2em;background:#fffdf6;border:1px solid #b9ae96;box-shadow:4px 4px 0 #b9ae96}
.stamp{float:right;border:2px dashed #a33;padding:.3em .6em;color:#a33}.small{color:#666;font-size:.8em}</style></head>
<body><div class="card"><div class="stamp">${m ? escape(m.cluster) : 'no stamp'}</div>
<h1>Postcard</h1><p class="message">${text}</p>
${m ? `<p class="small">delivered by messenger in ${escape(m.cluster)}; messenger saw the sender as ${escape(m.caller)}</p>` : ''}
</div></body></html>
`;
}

/** The greeter's handler. */
export function greeterHandler(messenger: string, env: NodeJS.ProcessEnv = process.env): Handler {
  const target = new URL('/message', messenger);
  return async (req, res) => {
    const url = requestUrl(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'greeter is healthy' });
    if (url.pathname !== '/greeter' && url.pathname !== '/') throw new HttpError(404, 'not found');
    const r = await call(target, { timeoutMs: 3000, attempts: 1, env, headers: { 'x-request-id': String(req.headers['x-request-id'] ?? '') } });
    let m: Message | undefined;
    if (r.ok) {
      try { m = JSON.parse(r.reply.body.toString('utf8')) as Message; } catch {}
    }
    const html = postcardPage(m && typeof m.message === 'string' ? m : undefined);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) }).end(html);
  };
}

if (isMain(import.meta.url)) {
  void runApp({
    name: 'greeter',
    defaultPort: 9080,
    options: { messenger: { type: 'string' } },
    usage: '[--messenger URL]  (env MESSENGER_URL; default http://messenger.default.svc.cluster.local:8080; HTTP_PROXY = its sidecar)',
    create: (v) => greeterHandler(serviceUrl('--messenger', (v.messenger as string | undefined) ?? process.env.MESSENGER_URL ?? 'http://messenger.default.svc.cluster.local:8080')),
  });
}
