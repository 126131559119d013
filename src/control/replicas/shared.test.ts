import { describe, expect, it } from 'vitest';
import { sharedFor } from './shared.js';

describe('sharedFor', () => {
  it('gives every caller within the time to live the same gathering, then gathers again; a failed one is not kept', async () => {
    let t = 0;
    let calls = 0;
    let fail = false;
    const get = sharedFor(2000, async () => { calls++; if (fail) throw new Error('peer down'); return calls; }, () => t);
    expect(await Promise.all([get(), get()])).toEqual([1, 1]);
    t = 1999;
    expect(await get()).toBe(1);
    t = 2000;
    fail = true;
    await expect(get()).rejects.toThrow('peer down');
    fail = false;
    expect(await get()).toBe(3);
    expect(calls).toBe(3);
  });
});
