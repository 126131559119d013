import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { normalize, parseAndValidate, parseMeshConfig, validateObject, type Violation } from './index.js';

const isViolations = (vs: Violation[]) => Array.isArray(vs) && vs.every((v) => typeof v.code === 'string' && typeof v.message === 'string' && typeof v.path === 'string');

// Fragments that steer random text toward YAML Istio would see.
const fragment = fc.constantFrom('apiVersion: networking.istio.io/v1\n', 'kind: VirtualService\n', 'kind: DestinationRule\n', 'metadata:\n  name: x\n', 'spec:\n', '  http:\n', '  - route:\n', '    - destination: {host: r}\n', '---\n', '&a [*a]\n', '- ', ': ', '{', '}', '[', ']', '"', "'", '\t', '  ', '\n', '#', '!!binary ', '? ', '|\n', '*a', '&b ', '%YAML 1.2\n');
const yamlish = fc.array(fc.oneof(fragment, fc.string({ maxLength: 8 })), { maxLength: 40 }).map((a) => a.join(''));

// Objects shaped like Istio resources with random values in random places.
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('host', 'route', 'match', 'weight', 'subset', 'http', 'exact', 'regex', 'destination', 'fault', 'delay', 'percent', 'tls', 'mode', 'x'), tie('v'), { maxKeys: 4 })),
})).v;
const resourceLike = fc.record({
  apiVersion: fc.constantFrom('networking.istio.io/v1', 'security.istio.io/v1', 'authentication.istio.io/v1alpha1', 'v1', 'x'),
  kind: fc.constantFrom('VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'Sidecar', 'AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication', 'MeshPolicy', 'Policy', 'WorkloadEntry', 'ConfigMap', 'Foo'),
  metadata: fc.oneof(fc.record({ name: fc.string() }), value),
  spec: value,
}, { requiredKeys: ['kind'] });

describe('the validator never throws and always returns violations', () => {
  it('on arbitrary YAML-ish text', () => {
    fc.assert(fc.property(yamlish, (text) => {
      const r = parseAndValidate(text, { file: 'p.yaml' });
      expect(isViolations(r.violations)).toBe(true);
      expect(Array.isArray(r.documents)).toBe(true);
      for (const v of r.violations) expect(v.line === undefined || v.line >= 1).toBe(true);
    }), { numRuns: 400 });
  });
  it('on arbitrary unicode strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
      expect(isViolations(parseAndValidate(text).violations)).toBe(true);
      expect(isViolations(parseMeshConfig(text).violations)).toBe(true);
    }), { numRuns: 300 });
  });
  it('on arbitrary objects, and as YAML text of them', () => {
    fc.assert(fc.property(fc.oneof(resourceLike, value), (obj) => {
      const vs = validateObject(obj);
      expect(isViolations(vs)).toBe(true);
      const text = stringify(obj);
      const r = parseAndValidate(text);
      expect(isViolations(r.violations)).toBe(true);
      // A resource the validator accepts can always be normalised.
      for (const d of r.documents) if (d.resource) expect(() => normalize(d.resource!)).not.toThrow();
    }), { numRuns: 400 });
  });
  it('on values that are not objects at all', () => {
    for (const v of [undefined, null, 0, 'x', [], [1], () => 1, Symbol('s'), new Date(0), Object.create(null)]) {
      expect(isViolations(validateObject(v))).toBe(true);
    }
    expect(isViolations(parseAndValidate(undefined as unknown as string).violations)).toBe(true);
  });
});
