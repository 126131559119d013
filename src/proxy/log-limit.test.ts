// The data plane's rate-limited log: one line per key per 10 s, and a bounded memory of keys
// however many distinct keys traffic produces (each key used to stay in a Map forever).
import { describe, expect, it } from 'vitest';
import { LOG_INTERVAL_MS, MAX_LOG_KEYS, rateLimitedLog } from './log-limit.js';

function setup(maxKeys?: number) {
  let t = 1_000_000;
  const lines: string[] = [];
  const l = rateLimitedLog((s) => lines.push(s), () => t, maxKeys);
  return { l, lines, advance: (ms: number) => { t += ms; } };
}

describe('rateLimitedLog', () => {
  it('logs a key once per interval', () => {
    const { l, lines, advance } = setup();
    l.log('k', 'first');
    l.log('k', 'second');
    advance(LOG_INTERVAL_MS - 1);
    l.log('k', 'third');
    advance(1);
    l.log('k', 'fourth');
    expect(lines).toEqual(['bowline proxy: first', 'bowline proxy: fourth']);
  });

  it('remembers at most MAX_LOG_KEYS keys, however many distinct keys arrive', () => {
    const { l, lines } = setup();
    for (let i = 0; i < MAX_LOG_KEYS * 5; i++) l.log('k' + i, 'm' + i);
    expect(l.size()).toBeLessThanOrEqual(MAX_LOG_KEYS);
    expect(lines).toHaveLength(MAX_LOG_KEYS * 5);
  });

  it('drops expired keys first, then the least recently logged; recent keys stay limited', () => {
    const { l, lines, advance } = setup(3);
    l.log('a', 'a1');
    advance(LOG_INTERVAL_MS);
    l.log('b', 'b1');
    l.log('c', 'c1');
    l.log('d', 'd1'); // full: 'a' expired and goes
    expect(l.size()).toBe(3);
    l.log('b', 'b2'); // still limited
    l.log('c', 'c2');
    expect(lines).toEqual(['bowline proxy: a1', 'bowline proxy: b1', 'bowline proxy: c1', 'bowline proxy: d1']);
    l.log('e', 'e1'); // all recent: the least recently logged ('b') goes
    expect(l.size()).toBe(3);
    l.log('c', 'c3');
    l.log('b', 'b3');
    expect(lines.slice(4)).toEqual(['bowline proxy: e1', 'bowline proxy: b3']);
  });

  it('never throws when the writer does', () => {
    const l = rateLimitedLog(() => { throw new Error('stderr gone'); });
    expect(() => l.log('k', 'm')).not.toThrow();
  });
});
