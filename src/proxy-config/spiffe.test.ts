// The one SPIFFE id parser/formatter both planes use (CA, proxy identity checks, telemetry).
import { describe, expect, it } from 'vitest';
import { formatSpiffeId, isIdentitySegment, isTrustDomain, parseSpiffeId } from './spiffe.js';

describe('SPIFFE ids', () => {
  it('parses and formats spiffe://TD/ns/NS/sa/SA, round trip', () => {
    const id = { trustDomain: 'cluster.local', namespace: 'bookinfo', serviceAccount: 'bookinfo-productpage' };
    expect(formatSpiffeId(id)).toBe('spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage');
    expect(parseSpiffeId(formatSpiffeId(id))).toEqual(id);
  });

  it('refuses other shapes and bad characters', () => {
    for (const bad of [
      'spiffe://cluster.local/ns/a/sa/b/extra', 'https://cluster.local/ns/a/sa/b', 'spiffe://cluster.local/sa/b/ns/a',
      'spiffe://Cluster.Local/ns/a/sa/b', 'spiffe://cluster.local/ns/a b/sa/b', 'spiffe://cluster.local/ns//sa/b',
      `spiffe://cluster.local/ns/${'a'.repeat(254)}/sa/b`, `spiffe://${'a'.repeat(256)}/ns/a/sa/b`, 'spiffe://cluster.local/ns/a/sa/b\n',
    ]) expect(parseSpiffeId(bad), bad).toBeUndefined();
  });

  it('checks segments and trust domains', () => {
    expect(isIdentitySegment('default')).toBe(true);
    expect(isIdentitySegment('')).toBe(false);
    expect(isIdentitySegment('a/b')).toBe(false);
    expect(isTrustDomain('example.org')).toBe(true);
    expect(isTrustDomain('Example.org')).toBe(false);
  });
});
