import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Store, StoredObject, WatchEvent } from '../store/index.js';
import type { ResourcePath } from './config-api.js';
import type { Matcher } from './selectors.js';
import { ApiError, badRequest } from './status.js';

/**
 * Most response bytes a watch may have waiting for a client that does not read. Past it the watch
 * ends (as Kubernetes drops a watcher that falls behind); the client lists and watches again.
 * Without it, one stalled client would hold every later event of its kind in memory.
 */
export const MAX_WATCH_BUFFER_BYTES = 16 * 1024 * 1024;

/** How a watch selects, lists and buffers. */
export interface WatchServeOptions {
  labels?: Matcher;
  fields?: Matcher;
  /** The initial list (default: the store's list of the kind). */
  list?: (namespace?: string) => Promise<{ items: StoredObject[]; revision: number }>;
  maxBufferedBytes?: number;
  /** Send BOOKMARK events (`allowWatchBookmarks`): after the initial events, then every `bookmarkEveryMs`. */
  bookmarks?: boolean;
  bookmarkEveryMs?: number;
}

/** How often a watch that allows bookmarks gets one (Kubernetes sends them about once a minute). */
export const BOOKMARK_EVERY_MS = 30_000;

/** Longest `timeoutSeconds` honoured (setTimeout's limit is about 24.8 days). */
const MAX_TIMEOUT_SECONDS = 2_147_483;

/**
 * Serves `?watch=1`: a chunked stream of `{type, object}` JSON lines. Without a resourceVersion
 * (or with "0") it first sends ADDED for every current object, like Kubernetes; with one, it
 * replays changes after it. Ends after `timeoutSeconds`, or with an ERROR event if history is gone.
 */
export async function serveWatch(store: Store, req: IncomingMessage, res: ServerResponse, path: ResourcePath, query: URLSearchParams, present: (o: StoredObject) => StoredObject, opts: WatchServeOptions = {}): Promise<void> {
  const { labels = () => true, fields = () => true, maxBufferedBytes = MAX_WATCH_BUFFER_BYTES } = opts;
  const list = opts.list ?? ((ns?: string) => store.list(path.kind.kind, ns));
  const selected = (o: StoredObject) => labels(o) && fields(o);
  const rvParam = query.get('resourceVersion');
  if (rvParam !== null && rvParam !== '' && !/^\d+$/.test(rvParam)) throw badRequest(`resourceVersion "${rvParam}" is not a number`);
  const timeout = query.get('timeoutSeconds');
  if (timeout !== null && !/^\d+$/.test(timeout)) throw badRequest(`timeoutSeconds "${timeout}" is not a number`);
  let from: number;
  const initial: StoredObject[] = [];
  const sendInitial = query.get('sendInitialEvents') === 'true';
  if (!rvParam || rvParam === '0' || sendInitial) {
    const listed = await list(path.namespace);
    initial.push(...listed.items);
    from = listed.revision;
  } else {
    from = Number(rvParam);
  }
  res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache' });
  res.flushHeaders();
  let behind = false;
  const send = (type: string, object: unknown) => {
    if (behind) return;
    res.write(JSON.stringify({ type, object }) + '\n');
    if (res.writableLength > maxBufferedBytes) behind = true;
  };
  for (const o of initial) if (selected(o)) send('ADDED', present(o));
  let lastRev = from;
  const { kind, version } = path;
  const bookmark = (initialEnd: boolean) => send('BOOKMARK', {
    kind: kind.kind, apiVersion: kind.group ? `${kind.group}/${version}` : version,
    metadata: { resourceVersion: String(lastRev), ...(initialEnd ? { annotations: { 'k8s.io/initial-events-end': 'true' } } : {}) },
  });
  if (opts.bookmarks) bookmark(sendInitial);
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const ticker = opts.bookmarks ? setInterval(() => bookmark(false), opts.bookmarkEveryMs ?? BOOKMARK_EVERY_MS) : undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      w.close();
      clearTimeout(timer);
      clearInterval(ticker);
      res.end();
      resolve();
    };
    const w = store.watch({ kind: path.kind.kind, ...(path.namespace !== undefined ? { namespace: path.namespace } : {}) }, (ev: WatchEvent) => {
      lastRev = Math.max(lastRev, ev.revision);
      if (!selected(ev.object)) return;
      send(ev.type, present(ev.object));
      if (behind) finish();
    }, {
      fromRevision: from,
      onError: (err) => {
        const status = err.reason === 'Expired'
          ? new ApiError(410, 'Expired', err.message)
          : new ApiError(503, 'ServiceUnavailable', `the config store is unavailable: ${err.message}`);
        send('ERROR', status.toStatus());
        finish();
      },
    });
    if (behind) return finish(); // the initial list alone outgrew the buffer
    if (timeout) timer = setTimeout(finish, Math.min(Number(timeout), MAX_TIMEOUT_SECONDS) * 1000);
    req.socket.once('close', finish);
    res.once('close', finish);
  });
}
