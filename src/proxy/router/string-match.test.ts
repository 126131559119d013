import { describe, expect, it } from 'vitest';
import { compileStringMatch, literalPrefix } from './string-match.js';

describe('string matches', () => {
  it('literal prefix of a regex is conservative', () => {
    expect(literalPrefix('/api/v[0-9]+')).toBe('/api/v');
    expect(literalPrefix('test-.*')).toBe('test-');
    expect(literalPrefix('abc*')).toBe('ab');
    expect(literalPrefix('abc?d')).toBe('ab');
    expect(literalPrefix('ab{2}')).toBe('a');
    expect(literalPrefix('GET|HEAD')).toBe('');
    expect(literalPrefix('(?i)abc')).toBe('');
    expect(literalPrefix('\\.abc')).toBe('');
  });
  it('regexes with a literal prefix still match exactly like the engine', () => {
    const cases: Array<[string, string, boolean]> = [
      ['abc*', 'ab', true], ['abc*', 'abccc', true], ['ab{2}', 'abb', true], ['ab{2}', 'ab', false],
      ['/api/v[0-9]+', '/api/v12', true], ['/api/v[0-9]+', '/api/x', false], ['x+y', 'xxy', true],
    ];
    for (const [re, s, want] of cases) expect([re, s, compileStringMatch({ regex: re })(s)]).toEqual([re, s, want]);
  });
});

describe('query values', async () => {
  const { queryValue, parseQuery } = await import('./match.js');
  it('finds raw first values without a map, like parseQuery', () => {
    const paths = ['/p', '/p?', '/p?a=1&b=2', '/p?ab=1&a=2', '/p?a&b=', '/p?b=1&a=x=y&a=3', '/p?=1&a=', '/p?aa'];
    for (const p of paths) for (const k of ['a', 'b', 'ab']) expect([p, k, queryValue(p, k)]).toEqual([p, k, parseQuery(p).get(k)]);
  });
});
