/**
 * Asking the other control-plane replicas (found by their presence records, presence.ts) for the
 * proxies connected to them: one GET to a peer's API listener with this replica's peer token, over
 * TLS when the API is TLS (`--api-tls`: the peers' certificates come from the shared CA), with a
 * short deadline, so that a peer that does not answer never holds up the answer.
 */
import http from 'node:http';
import https from 'node:https';
import type { Store } from '../../store/index.js';
import { listReplicas, type ReplicaRecord } from './presence.js';

/** How long one request to a peer may take by default. */
export const PEER_TIMEOUT_MS = 2000;

/** The largest answer read from a peer by default (a traffic window of a very large mesh stops here rather than filling memory). */
export const PEER_MAX_BYTES = 32 * 1024 * 1024;

/** A peer that did not answer (or not with a 2xx/4xx JSON body). */
export interface UnreachableReplica {
  id: string;
  apiUrl: string;
  /** Why, in a sentence (refused, timed out, 401 ...). */
  error: string;
}

/** One peer's answer. */
export interface PeerAnswer {
  status: number;
  body: unknown;
}

/** The other live replicas and how to ask them. */
export interface Peers {
  /** This replica's id. */
  readonly self: string;
  /** Every other replica with a live presence record. */
  others(): Promise<ReplicaRecord[]>;
  /** GET `pathAndQuery` from `peer`; rejects with a sentence when it does not answer in time. */
  get(peer: ReplicaRecord, pathAndQuery: string): Promise<PeerAnswer>;
}

/** What `peerClient` needs. */
export interface PeerClientOptions {
  store: Store;
  self: string;
  /** The bearer token to send (the replica's `replica`-scope token); undefined until this replica has published
   *  its presence, and until then it asks no peer (it is not one of the replicas yet). */
  token(): string | undefined;
  /** PEM roots that verify the peers' API certificates (the mesh CA's trust bundle), for https peers. */
  ca?: () => string;
  timeoutMs?: number;
  /** Largest answer body read (default PEER_MAX_BYTES); a longer one is refused. */
  maxBytes?: number;
}

/** The peers of replica `self`, asked over HTTP(S). */
export function peerClient(o: PeerClientOptions): Peers {
  const timeoutMs = o.timeoutMs ?? PEER_TIMEOUT_MS;
  const maxBytes = o.maxBytes ?? PEER_MAX_BYTES;
  return {
    self: o.self,
    async others() {
      if (o.token() === undefined) return [];
      return (await listReplicas(o.store)).filter((r) => r.id !== o.self);
    },
    get(peer, pathAndQuery) {
      return new Promise((resolve, reject) => {
        const u = new URL(pathAndQuery, peer.apiUrl);
        const tls = u.protocol === 'https:';
        const req = (tls ? https : http).request(u, {
          method: 'GET', agent: false, timeout: timeoutMs,
          headers: { authorization: `Bearer ${o.token() ?? ''}`, accept: 'application/json' },
          ...(tls && o.ca ? { ca: o.ca() } : {}),
        }, (res) => {
          const chunks: Buffer[] = [];
          let bytes = 0;
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            if (bytes > maxBytes) req.destroy(new Error(`answered more than ${maxBytes} bytes`));
            else chunks.push(c);
          });
          res.on('end', () => {
            clearTimeout(deadline);
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
            } catch {
              reject(new Error(`${peer.apiUrl} answered ${res.statusCode} with a body that is not JSON`));
            }
          });
          res.on('error', (err) => reject(err));
        });
        // `timeout` is the socket's idle time; this bounds the whole exchange (a peer that trickles bytes too).
        const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on('error', (err) => { clearTimeout(deadline); reject(new Error(`${peer.apiUrl}: ${err.message}`)); });
        req.end();
      });
    },
  };
}

/** A replica on a store shared with others: itself (its API URL set once its listener is bound) and its peers. */
export interface ReplicaParts {
  self: { id: string; apiUrl: string };
  peers: Peers;
}
