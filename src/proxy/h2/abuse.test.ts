// The per-connection reset accounting, with an injected clock (no timing in unit tests).
import { constants } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { goawayCodeFor, ResetGuard } from './abuse.js';

describe('ResetGuard', () => {
  it('trips after more than `limit` premature resets that are most of the window\'s streams', () => {
    const t = 0;
    const g = new ResetGuard(3, 1000, () => t);
    const hits: boolean[] = [];
    for (let i = 0; i < 5; i++) { g.opened(); hits.push(g.reset()); }
    expect(hits).toEqual([false, false, false, true, true]);
  });

  it('a client that cancels some of many streams is not abusive', () => {
    const t = 0;
    const g = new ResetGuard(3, 1000, () => t);
    for (let i = 0; i < 100; i++) g.opened();
    for (let i = 0; i < 10; i++) expect(g.reset()).toBe(false);
  });

  it('starts over in each window', () => {
    let t = 0;
    const g = new ResetGuard(3, 1000, () => t);
    for (let i = 0; i < 3; i++) { g.opened(); g.reset(); }
    t = 1000;
    g.opened();
    expect(g.reset()).toBe(false);
  });
});

describe('goawayCodeFor', () => {
  it('names the RFC 9113 code for nghttp2 errors; undefined leaves node\'s choice', () => {
    expect(goawayCodeFor({ errno: -524 })).toBe(constants.NGHTTP2_FLOW_CONTROL_ERROR);
    expect(goawayCodeFor({ errno: -523 })).toBe(constants.NGHTTP2_COMPRESSION_ERROR);
    expect(goawayCodeFor({ errno: -905 })).toBe(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(goawayCodeFor({ code: 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES' })).toBe(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(goawayCodeFor(new Error('x'))).toBeUndefined();
    expect(goawayCodeFor(undefined)).toBeUndefined();
  });
});
