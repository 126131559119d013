import { describe, expect, it } from 'vitest';
import { iqr, median } from './telemetry-rounds.js';

describe('telemetry rounds: the field and its spread', () => {
  it('median: the middle value, the mean of the middle two for an even count, ignoring failed rounds (NaN)', () => {
    expect(median([9, 1, 5])).toBe(5);
    expect(median([9, 1, 5, 7])).toBe(6);
    expect(median([NaN, 3, Infinity, 1])).toBe(2);
    expect(median([NaN])).toBeNaN();
    expect(median([])).toBeNaN();
  });

  it('iqr: the 75th minus the 25th percentile of the rounds, NaN under four rounds', () => {
    expect(iqr([1, 2, 3, 4, 5, 6, 7, 8])).toBe(7 - 3);
    expect(iqr([-8.4, 22, 7, 10, 9])).toBeCloseTo(10 - 7);
    expect(iqr([1, 2, 3])).toBeNaN();
    expect(iqr([1, 2, NaN, 3])).toBeNaN();
  });
});
