// The postcard sample's messenger: `GET /message` answers a message naming the cluster it runs in
// (env MESSENGER_CLUSTER, else its --cluster flag), and who called it as its sidecar saw it (the
// SPIFFE id in x-forwarded-client-cert; `-` without mTLS).
import type http from 'node:http';
import { HttpError, isMain, requestUrl, runApp, sendJson, type Handler } from '../app/serve.js';

/** What messenger answers. */
export interface Message {
  message: string;
  cluster: string;
  /** The caller's SPIFFE id as the sidecar in front of messenger saw it, or `-`. */
  caller: string;
}

/** The caller's identity from the sidecar's x-forwarded-client-cert header. */
export function callerOf(req: http.IncomingMessage): string {
  const xfcc = String(req.headers['x-forwarded-client-cert'] ?? '');
  return /URI=([^;,]+)/.exec(xfcc)?.[1] ?? '-';
}

/** The messenger's handler; `text` may hold `{cluster}`. */
export function messengerHandler(cluster: string, text = 'Greetings from {cluster}!'): Handler {
  return (req, res) => {
    const url = requestUrl(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'messenger is healthy' });
    if (url.pathname !== '/message') throw new HttpError(404, 'not found');
    const body: Message = { message: text.replaceAll('{cluster}', cluster), cluster, caller: callerOf(req) };
    sendJson(res, 200, body);
  };
}

if (isMain(import.meta.url)) {
  void runApp({
    name: 'messenger',
    defaultPort: 8080,
    options: { cluster: { type: 'string' }, text: { type: 'string' } },
    usage: '[--cluster NAME] [--text "Greetings from {cluster}!"]  (env MESSENGER_CLUSTER, MESSENGER_TEXT)',
    create: (v) => messengerHandler((v.cluster as string | undefined) ?? process.env.MESSENGER_CLUSTER ?? 'unknown', (v.text as string | undefined) ?? process.env.MESSENGER_TEXT),
  });
}
