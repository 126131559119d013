import { describe, expect, it } from 'vitest';
import { compileFault, exponentialDelayMs, http2ErrorCode } from './fault.js';
import { compileRetryPolicy, retryBackoffMs } from './retry.js';
import { redirectLocation } from '../router/rewrite.js';

describe('fault: exponential delay and HTTP/2 error aborts', () => {
  it('draws the delay by inverse transform of the injected randomness', () => {
    expect(exponentialDelayMs(1000, () => 0)).toBe(0);
    expect(exponentialDelayMs(1000, () => 0.5)).toBe(693);
    expect(exponentialDelayMs(100, () => 0.9)).toBe(230);
    const f = compileFault({ delay: { exponentialDelayMs: 1000, percentage: 100 } }, () => 0.5)!;
    expect(f.decide()).toEqual({ delayMs: 693 });
  });

  it('an http2Error abort resets with its code instead of answering', () => {
    expect(http2ErrorCode('REFUSED_STREAM')).toBe(7);
    expect(http2ErrorCode('cancel')).toBe(8);
    expect(http2ErrorCode('what')).toBe(2);
    expect(compileFault({ abort: { http2Error: 'ENHANCE_YOUR_CALM', percentage: 100 } })!.decide()).toEqual({ delayMs: 0, resetCode: 11 });
  });
});

describe('retry back-off base', () => {
  it('is Envoy jittered exponential back-off of the base, capped at 10x', () => {
    expect(retryBackoffMs(1, () => 0.999)).toBe(24);
    expect(retryBackoffMs(1, () => 0.5, 200)).toBe(100);
    expect(retryBackoffMs(2, () => 0.5, 200)).toBe(300);
    expect(retryBackoffMs(9, () => 0.5, 200)).toBe(1000);
    expect(compileRetryPolicy({ attempts: 1, retryOn: ['5xx'], backoffBaseMs: 80 })!.backoffBaseMs).toBe(80);
    expect(compileRetryPolicy({ attempts: 1, retryOn: ['5xx'] })!.backoffBaseMs).toBe(25);
  });
});

describe('redirect derivePort', () => {
  const req = { path: '/a?x=1', authority: 'shop:8080', scheme: 'http', port: 9080 };
  it('FROM_PROTOCOL_DEFAULT drops the port, FROM_REQUEST_PORT takes the listener port, port wins over both', () => {
    expect(redirectLocation({ derivePort: 'FROM_PROTOCOL_DEFAULT' }, req)).toBe('http://shop/a?x=1');
    expect(redirectLocation({ derivePort: 'FROM_REQUEST_PORT', scheme: 'https' }, req)).toBe('https://shop:9080/a?x=1');
    expect(redirectLocation({}, req)).toBe('http://shop:8080/a?x=1');
  });
});
