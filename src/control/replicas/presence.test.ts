// A replica's presence record and peer token in a real (embedded) store: published, renewed (re-created
// when they expired), verified as scope `replica`, and gone after close.
import { afterAll, describe, expect, it } from 'vitest';
import { openEmbeddedStore, type Store } from '../../store/index.js';
import { tempDir } from '../../../test/support/temp.js';
import { ApiTokens } from '../api-tokens.js';
import { advertisedApiUrl, listReplicas, parseReplicaRecord, publishPresence, replicaKey } from './presence.js';

const stores: Store[] = [];
afterAll(async () => { for (const s of stores) await s.close(); });

describe('replica presence', () => {
  it('publishes the record and a replica-scope token, re-creates them when they expired, and deletes both on close', async () => {
    const store = await openEmbeddedStore({ dir: tempDir('bowline-presence-') });
    stores.push(store);
    const tokens = new ApiTokens(store);
    const record = { id: 'cp-1', apiUrl: 'http://10.0.0.5:15014', startedAt: '2026-12-03T18:00:00.000Z' };
    const p = await publishPresence({ store, tokens, record, ttlMs: 60_000, log: () => {} });
    expect(await listReplicas(store)).toEqual([record]);
    const t = await tokens.verify(p.token());
    expect(t?.scope).toBe('replica');
    expect(t?.name).toBe('replica.cp-1');

    // Both gone (a store outage longer than the TTL): the next renewal puts them back, with a new token.
    const first = p.token();
    await store.deleteRaw(replicaKey('cp-1'));
    await tokens.revokeReplicaToken(t!.id);
    await p.renew();
    expect(await listReplicas(store)).toEqual([record]);
    expect(p.token()).not.toBe(first);
    expect((await tokens.verify(p.token()))?.scope).toBe('replica');

    await p.close();
    expect(await listReplicas(store)).toEqual([]);
    expect(await tokens.verify(p.token())).toBeUndefined();
  });

  it('users cannot mint a replica token (what it may read: access.test.ts)', async () => {
    const store = await openEmbeddedStore({ dir: tempDir('bowline-presence-') });
    stores.push(store);
    await expect(new ApiTokens(store).create({ name: 'sneaky', scope: 'replica', createdBy: 'test' })).rejects.toThrow(/scope must be admin, read-only, registry-read or viewer/);
  });

  it('parses records and leaves damaged ones out', () => {
    expect(parseReplicaRecord('{"id":"a","apiUrl":"https://a:15014","startedAt":"x"}')).toEqual({ id: 'a', apiUrl: 'https://a:15014', startedAt: 'x' });
    expect(parseReplicaRecord('{"id":"a","apiUrl":"ftp://a","startedAt":"x"}')).toBeUndefined();
    expect(parseReplicaRecord('not json')).toBeUndefined();
  });

  it('advertises the bound URL, the host address for a wildcard listener, or what it is told', () => {
    expect(advertisedApiUrl({ scheme: 'http', listenHost: '127.0.0.1', port: 15014 })).toBe('http://127.0.0.1:15014');
    expect(advertisedApiUrl({ scheme: 'https', listenHost: '0.0.0.0', port: 15014, hostAddress: '10.1.2.3' })).toBe('https://10.1.2.3:15014');
    expect(advertisedApiUrl({ scheme: 'http', listenHost: '::1', port: 1 })).toBe('http://[::1]:1');
    expect(advertisedApiUrl({ scheme: 'http', listenHost: '0.0.0.0', port: 1, advertise: 'http://cp-0.bowline:15014/' })).toBe('http://cp-0.bowline:15014');
  });
});
