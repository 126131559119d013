// The one SPIFFE id parser/formatter both planes use (CA, proxy identity checks, telemetry).
import { describe, expect, it } from 'vitest';
import { formatPrincipal, formatSpiffeId, isIdentitySegment, isTrustDomain, parsePrincipal, parseSpiffeId, principalOf, spiffeIdOf } from './spiffe.js';

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
    expect(isIdentitySegment('.')).toBe(false);
    expect(isIdentitySegment('..')).toBe(false);
    expect(isIdentitySegment('a..b')).toBe(true);
    expect(isTrustDomain('example.org')).toBe(true);
    expect(isTrustDomain('Example.org')).toBe(false);
  });

  it('converts between SPIFFE ids and principals, both ways', () => {
    const id = { trustDomain: 'cluster.local', namespace: 'bookinfo', serviceAccount: 'bookinfo-ratings' };
    expect(principalOf('spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings')).toBe('cluster.local/ns/bookinfo/sa/bookinfo-ratings');
    expect(spiffeIdOf('cluster.local/ns/bookinfo/sa/bookinfo-ratings')).toBe('spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings');
    expect(formatPrincipal(id)).toBe('cluster.local/ns/bookinfo/sa/bookinfo-ratings');
    expect(parsePrincipal(formatPrincipal(id))).toEqual(id);
    expect(spiffeIdOf(principalOf(formatSpiffeId(id))!)).toBe(formatSpiffeId(id));
    // A SPIFFE id that is not a workload id still names a principal (Istio's), but has no workload parts.
    expect(principalOf('spiffe://example.org/gateways/edge')).toBe('example.org/gateways/edge');
    expect(parsePrincipal('example.org/gateways/edge')).toBeUndefined();
    expect(principalOf('spiffe://example.org')).toBe('example.org');
  });

  it('refuses malformed ids and principals (undefined: callers fail closed)', () => {
    for (const bad of [
      '', 'spiffe://', 'spiffe:///ns/a/sa/b', 'https://cluster.local/ns/a/sa/b', 'SPIFFE://cluster.local/ns/a/sa/b',
      'cluster.local/ns/a/sa/b', // a principal is not an id (it used to pass through unchanged)
      'spiffe://Cluster.Local/ns/a/sa/b', 'spiffe://cluster.local/ns//sa/b', 'spiffe://cluster.local/ns/a/sa/b/',
      'spiffe://cluster.local/ns/../sa/b', 'spiffe://cluster.local/./ns/a', 'spiffe://cluster.local/ns/a b/sa/b',
      'spiffe://cluster.local/ns/a/sa/b\n', 'spiffe://cluster.local/ns/a/sa/b?x=1', 'spiffe://cluster.local/ns/a/sa/b#f',
      'spiffe://user@cluster.local/ns/a/sa/b', 'spiffe://cluster.local:443/ns/a/sa/b', 'spiffe://cluster.local/ns/%61/sa/b',
      ` spiffe://cluster.local/ns/a/sa/b`, `spiffe://${'a'.repeat(256)}/ns/a/sa/b`, `spiffe://td/${'a/'.repeat(1100)}b`,
    ]) expect(principalOf(bad), JSON.stringify(bad)).toBeUndefined();
    for (const bad of [
      '', 'spiffe://cluster.local/ns/a/sa/b', '/ns/a/sa/b', 'cluster.local/ns/a/sa/b/', 'Cluster.local/ns/a/sa/b',
      'cluster.local/ns/../sa/b', 'cluster.local/ns/a/sa/b c', 'cluster.local//ns/a',
    ]) {
      expect(spiffeIdOf(bad), JSON.stringify(bad)).toBeUndefined();
      expect(parsePrincipal(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });
});
