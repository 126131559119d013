// Asking a peer over real sockets: its answer, its refusal, and a peer that never answers (bounded by the deadline).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { openEmbeddedStore, type Store } from '../../store/index.js';
import { tempDir } from '../../../test/support/temp.js';
import { peerClient } from './peers.js';
import { replicaKey } from './presence.js';

const servers: http.Server[] = [];
const stores: Store[] = [];
afterAll(async () => {
  for (const s of servers) { s.closeAllConnections(); s.close(); }
  for (const s of stores) await s.close();
});

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

async function store(): Promise<Store> {
  const s = await openEmbeddedStore({ dir: tempDir('bowline-peers-') });
  stores.push(s);
  return s;
}

describe('peerClient', () => {
  it('lists the other live replicas (none before this one has published), and GETs with its token', async () => {
    const st = await store();
    const cred: { token?: string } = {};
    const seen: string[] = [];
    const url = await serve((req, res) => { seen.push(`${req.url} ${req.headers.authorization}`); res.end(JSON.stringify({ proxies: [] })); });
    for (const id of ['a', 'b']) await st.putRaw(replicaKey(id), JSON.stringify({ id, apiUrl: url, startedAt: '2026-12-03T00:00:00Z' }), { ttlMs: 60_000 });
    await st.putRaw(replicaKey('broken'), '{"id":', { ttlMs: 60_000 });
    const peers = peerClient({ store: st, self: 'a', token: () => cred.token });
    expect(await peers.others()).toEqual([]);
    cred.token = 'bat_x';
    const others = await peers.others();
    expect(others.map((r) => r.id)).toEqual(['b']);
    expect(await peers.get(others[0]!, '/debug/syncz?local=1')).toEqual({ status: 200, body: { proxies: [] } });
    expect(seen).toEqual(['/debug/syncz?local=1 Bearer bat_x']);
  });

  it('rejects with a sentence when the peer does not answer in time or answers no JSON', async () => {
    const st = await store();
    const hung = await serve(() => {});
    const html = await serve((_req, res) => res.writeHead(502).end('<html>'));
    const peers = peerClient({ store: st, self: 'a', token: () => 't', timeoutMs: 150 });
    const rec = (apiUrl: string) => ({ id: 'b', apiUrl, startedAt: '' });
    await expect(peers.get(rec(hung), '/debug/syncz?local=1')).rejects.toThrow(`${hung}: no answer within 150 ms`);
    await expect(peers.get(rec(html), '/debug/syncz?local=1')).rejects.toThrow(`${html} answered 502 with a body that is not JSON`);
  });

  it('refuses an answer larger than its limit instead of reading it all', async () => {
    const st = await store();
    const big = await serve((_req, res) => res.end(JSON.stringify({ window: { slots: 'x'.repeat(64 * 1024) } })));
    const small = await serve((_req, res) => res.end('{"proxies":[]}'));
    const peers = peerClient({ store: st, self: 'a', token: () => 't', maxBytes: 16 * 1024 });
    await expect(peers.get({ id: 'b', apiUrl: big, startedAt: '' }, '/debug/statsz?local=1')).rejects.toThrow(`${big}: answered more than 16384 bytes`);
    expect(await peers.get({ id: 'c', apiUrl: small, startedAt: '' }, '/debug/syncz?local=1')).toEqual({ status: 200, body: { proxies: [] } });
  });
});
