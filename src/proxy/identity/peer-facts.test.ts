import { beforeEach, describe, expect, it } from 'vitest';
import { PEER_FACTS_LIMIT, PeerFactsCache } from './peer-facts.js';

const SELF = 'spiffe://cluster.local/ns/default/sa/reviews';
const PAGE = 'spiffe://cluster.local/ns/default/sa/productpage';
const RATINGS = 'spiffe://cluster.local/ns/bar/sa/ratings';

describe('PeerFactsCache', () => {
  let cache = new PeerFactsCache();
  const peerFacts = (own: string, peer: string) => cache.of(own, peer);
  beforeEach(() => { cache = new PeerFactsCache(); });

  it('is one per proxy: two proxies with their own ids keep their own facts for one peer', () => {
    const a = new PeerFactsCache(), b = new PeerFactsCache();
    const other = 'spiffe://cluster.local/ns/default/sa/details';
    const fa = a.of(SELF, PAGE), fb = b.of(other, PAGE);
    expect(a.of(SELF, PAGE)).toBe(fa);
    expect(b.of(other, PAGE)).toBe(fb);
    expect(fa.xfcc).toBe(`By=${SELF};URI=${PAGE}`);
    expect(fb.xfcc).toBe(`By=${other};URI=${PAGE}`);
  });

  it('gives a plaintext peer no x-forwarded-client-cert and no principal', () => {
    expect(peerFacts(SELF, '')).toEqual({ peer: '', xfcc: '', principal: undefined });
  });

  it('makes x-forwarded-client-cert and the principal once per peer: every request from that peer gets the same strings', () => {
    const a = peerFacts(SELF, PAGE);
    expect(a.xfcc).toBe(`By=${SELF};URI=${PAGE}`);
    expect(a.principal).toBe('cluster.local/ns/default/sa/productpage');
    for (let i = 0; i < 100; i++) expect(peerFacts(SELF, PAGE)).toBe(a);
    const b = peerFacts(SELF, RATINGS);
    expect(b.xfcc).toBe(`By=${SELF};URI=${RATINGS}`);
    expect(b.principal).toBe('cluster.local/ns/bar/sa/ratings');
    // Alternating peers (two connections) still get their own facts, from the cache.
    expect(peerFacts(SELF, PAGE)).toBe(a);
    expect(peerFacts(SELF, RATINGS)).toBe(b);
  });

  it('follows a change of the proxy\'s own id (By=) and never hands out a fact made for the old one', () => {
    const before = peerFacts(SELF, PAGE);
    const other = 'spiffe://cluster.local/ns/default/sa/reviews-v2';
    expect(peerFacts(other, PAGE).xfcc).toBe(`By=${other};URI=${PAGE}`);
    expect(peerFacts(SELF, PAGE).xfcc).toBe(before.xfcc);
  });

  it('fails closed for an id that is not a SPIFFE id: no principal, so no principal rule matches it', () => {
    const f = peerFacts(SELF, 'urn:example:peer');
    expect(f.principal).toBeUndefined();
    expect(f.xfcc).toBe(`By=${SELF};URI=urn:example:peer`);
  });

  it('stays right past its size limit (starts over instead of growing)', () => {
    const ids = Array.from({ length: PEER_FACTS_LIMIT + 10 }, (_, i) => `spiffe://cluster.local/ns/n${i}/sa/s`);
    for (const id of ids) expect(peerFacts(SELF, id).xfcc).toBe(`By=${SELF};URI=${id}`);
    for (const id of ids.slice(0, 20)) expect(peerFacts(SELF, id).principal).toBe(id.slice('spiffe://'.length));
  });
});
