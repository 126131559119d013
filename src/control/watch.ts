import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Store, StoredObject, WatchEvent } from '../store/index.js';
import type { ResourcePath } from './config-api.js';
import { ApiError, badRequest } from './status.js';

/**
 * Serves `?watch=1`: a chunked stream of `{type, object}` JSON lines. Without a resourceVersion
 * (or with "0") it first sends ADDED for every current object, like Kubernetes; with one, it
 * replays changes after it. Ends after `timeoutSeconds`, or with an ERROR event if history is gone.
 */
export async function serveWatch(store: Store, req: IncomingMessage, res: ServerResponse, path: ResourcePath, query: URLSearchParams, present: (o: StoredObject) => StoredObject): Promise<void> {
  const rvParam = query.get('resourceVersion');
  if (rvParam !== null && rvParam !== '' && !/^\d+$/.test(rvParam)) throw badRequest(`resourceVersion "${rvParam}" is not a number`);
  const timeout = query.get('timeoutSeconds');
  if (timeout !== null && !/^\d+$/.test(timeout)) throw badRequest(`timeoutSeconds "${timeout}" is not a number`);
  let from: number;
  const initial: StoredObject[] = [];
  if (!rvParam || rvParam === '0') {
    const listed = await store.list(path.kind.kind, path.namespace);
    initial.push(...listed.items);
    from = listed.revision;
  } else {
    from = Number(rvParam);
  }
  res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache' });
  res.flushHeaders();
  const send = (type: string, object: unknown) => res.write(JSON.stringify({ type, object }) + '\n');
  for (const o of initial) send('ADDED', present(o));
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      w.close();
      clearTimeout(timer);
      res.end();
      resolve();
    };
    const w = store.watch({ kind: path.kind.kind, ...(path.namespace !== undefined ? { namespace: path.namespace } : {}) }, (ev: WatchEvent) => {
      send(ev.type, present(ev.object));
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
    if (timeout) timer = setTimeout(finish, Number(timeout) * 1000);
    req.socket.once('close', finish);
    res.once('close', finish);
  });
}
