import { describe, expect, it } from 'vitest';
import { CodedError, type CodeOf } from './coded-error.js';

const CODES = { BROKEN: 'BOWLINE_E_TEST_BROKEN' } as const;
class TestError extends CodedError<CodeOf<typeof CODES>> {
  override name = 'TestError';
}

describe('CodedError', () => {
  it('starts its message with the code, keeps the code, the subclass name and the cause', () => {
    const cause = new Error('disk full');
    const err = new TestError(CODES.BROKEN, 'the thing broke; fix it', { cause });
    expect(err).toBeInstanceOf(TestError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('BOWLINE_E_TEST_BROKEN');
    expect(err.message).toBe('BOWLINE_E_TEST_BROKEN: the thing broke; fix it');
    expect(err.name).toBe('TestError');
    expect(String(err)).toBe('TestError: BOWLINE_E_TEST_BROKEN: the thing broke; fix it');
    expect(err.cause).toBe(cause);
  });
});
