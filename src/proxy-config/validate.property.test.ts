// validateProxyConfig must never throw and never accept garbage, whatever it is handed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateProxyConfig } from './validate.js';

describe('validateProxyConfig on arbitrary input', () => {
  it('never throws; anything it accepts has the top-level lists', () => {
    fc.assert(fc.property(fc.anything({ maxDepth: 4 }), (v) => {
      const r = validateProxyConfig(v);
      if (r.config) {
        for (const k of ['listeners', 'routes', 'clusters', 'endpoints', 'secrets'] as const) expect(Array.isArray(r.config[k])).toBe(true);
      } else {
        expect(r.errors.length).toBeGreaterThan(0);
      }
    }), { numRuns: 500 });
  });

  it('never throws on config-shaped objects with arbitrary leaves', () => {
    const leaf = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.array(fc.string(), { maxLength: 2 }));
    const shaped = fc.record({
      node: fc.dictionary(fc.constantFrom('id', 'role', 'labels', 'namespace'), leaf),
      mesh: leaf,
      listeners: fc.array(fc.dictionary(fc.constantFrom('name', 'port', 'filterChains', 'direction'), leaf), { maxLength: 3 }),
      routes: fc.array(fc.record({ name: fc.string(), virtualHosts: fc.array(fc.dictionary(fc.constantFrom('name', 'domains', 'routes', 'cors', 'retries'), leaf), { maxLength: 2 }) }), { maxLength: 2 }),
      clusters: fc.array(fc.dictionary(fc.constantFrom('name', 'discovery', 'loadBalancer', 'outlierDetection', 'tls'), leaf), { maxLength: 3 }),
      endpoints: leaf,
      secrets: leaf,
    });
    fc.assert(fc.property(shaped, (v) => {
      expect(() => validateProxyConfig(v)).not.toThrow();
    }), { numRuns: 300 });
  });
});
