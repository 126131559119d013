import { describe, expect, it } from 'vitest';
import { compileCors, isPreflight } from './cors.js';
import { compileFault, rollPercentage } from './fault.js';
import { applyHeaderMutation, compileHeaderOps, flatHeaderSink } from './headers.js';
import { compileRetryPolicy, isRetriable, retryBackoffMs, shouldRetry } from './retry.js';

/** Cycles through 0, 1/n, 2/n, ... : an exact uniform sequence for percentage tests. */
function sweep(n: number): () => number {
  let i = 0;
  return () => (i++ % n) / n;
}

describe('fault injection', () => {
  it('delays and aborts exactly their percentage with an even random sequence', () => {
    const f = compileFault({ delay: { fixedDelayMs: 7000, percentage: 10 }, abort: { httpStatus: 555, percentage: 30 } }, sweep(1000))!;
    let delays = 0;
    let aborts = 0;
    for (let i = 0; i < 1000; i++) {
      const d = f.decide();
      if (d?.delayMs) { delays++; expect(d.delayMs).toBe(7000); }
      if (d?.abortStatus) { aborts++; expect(d.abortStatus).toBe(555); }
    }
    expect(delays).toBeGreaterThanOrEqual(95);
    expect(delays).toBeLessThanOrEqual(105);
    expect(aborts).toBeGreaterThanOrEqual(290);
    expect(aborts).toBeLessThanOrEqual(310);
  });
  it('100 % always, 0 % never, nothing allocated when nothing fires', () => {
    expect(rollPercentage(100, () => 0.999)).toBe(true);
    expect(rollPercentage(0, () => 0)).toBe(false);
    expect(compileFault({ abort: { httpStatus: 500, percentage: 100 } })!.decide()).toEqual({ delayMs: 0, abortStatus: 500 });
    expect(compileFault({ delay: { fixedDelayMs: 5, percentage: 0 } })!.decide()).toBeUndefined();
    expect(compileFault(undefined)).toBeUndefined();
    expect(compileFault({})).toBeUndefined();
  });
  it('a gRPC abort keeps its grpcStatus', () => {
    expect(compileFault({ abort: { grpcStatus: 'UNAVAILABLE', percentage: 100 } })!.decide()).toEqual({ delayMs: 0, abortStatus: 200, grpcStatus: 'UNAVAILABLE' });
  });
});

describe('CORS', () => {
  const cors = compileCors({ allowOrigins: [{ exact: 'https://example.com' }, { regex: 'https://.*\\.example\\.org' }], allowMethods: ['GET', 'POST'], allowHeaders: ['x-token'], exposeHeaders: ['x-trace'], maxAgeMs: 86_400_000, allowCredentials: true })!;
  it('recognises a preflight', () => {
    expect(isPreflight('OPTIONS', 'https://example.com', 'POST')).toBe(true);
    expect(isPreflight('OPTIONS', 'https://example.com', undefined)).toBe(false);
    expect(isPreflight('GET', 'https://example.com', 'POST')).toBe(false);
  });
  it('answers a preflight from an allowed origin with the allow-* headers', () => {
    expect(Object.fromEntries(cors.preflight('https://a.example.org')!)).toEqual({
      'access-control-allow-origin': 'https://a.example.org',
      'access-control-allow-methods': 'GET,POST',
      'access-control-allow-headers': 'x-token',
      'access-control-max-age': '86400',
      'access-control-allow-credentials': 'true',
      vary: 'origin',
    });
  });
  it('adds response headers for allowed origins only; others pass through without CORS headers', () => {
    expect(Object.fromEntries(cors.responseHeaders('https://example.com')!)).toMatchObject({ 'access-control-allow-origin': 'https://example.com', 'access-control-expose-headers': 'x-trace' });
    expect(cors.preflight('https://evil.com')).toBeUndefined();
    expect(cors.responseHeaders('https://evil.com')).toBeUndefined();
    expect(cors.responseHeaders(undefined)).toBeUndefined();
  });
});

describe('header operations', () => {
  it('remove, then set, then add; names lowercased', () => {
    const ops = compileHeaderOps({ request: { set: { 'X-Set': 'new' }, add: { 'x-add': 'two' }, remove: ['X-Secret'] }, response: { remove: ['server'] } })!;
    const list = ['X-Set', 'old', 'x-secret', 's', 'x-add', 'one', 'host', 'h'];
    applyHeaderMutation(ops.request, flatHeaderSink(list));
    expect(list).toEqual(['x-add', 'one', 'host', 'h', 'x-set', 'new', 'x-add', 'two']);
    const res = ['Server', 'node', 'content-type', 'text/plain'];
    applyHeaderMutation(ops.response, flatHeaderSink(res));
    expect(res).toEqual(['content-type', 'text/plain']);
  });
  it('empty operations compile to undefined', () => {
    expect(compileHeaderOps({ request: {}, response: { set: {} } })).toBeUndefined();
    expect(compileHeaderOps({ request: { add: { a: 'b' } } })).toEqual({ request: { remove: [], set: [], add: [['a', 'b']] } });
  });
});

describe('retry decisions', () => {
  it('5xx covers every 5xx, resets, connect failures and timeouts', () => {
    const p = compileRetryPolicy({ attempts: 2, retryOn: ['5xx'] })!;
    for (const o of [{ status: 500 }, { status: 503 }, { status: 599 }, { reset: true }, { connectFailure: true }, { timeout: true }, { refusedStream: true }]) expect(isRetriable(p, o)).toBe(true);
    for (const o of [{ status: 200 }, { status: 404 }, { status: 409 }]) expect(isRetriable(p, o)).toBe(false);
  });
  it('gateway-error covers 502/503/504 and connection failures, not 500', () => {
    const p = compileRetryPolicy({ attempts: 1, retryOn: ['gateway-error'] })!;
    expect([502, 503, 504, 500].map((status) => isRetriable(p, { status }))).toEqual([true, true, true, false]);
    expect(isRetriable(p, { connectFailure: true })).toBe(true);
    expect(isRetriable(p, { timeout: true })).toBe(true);
  });
  it('connect-failure, refused-stream, reset, retriable-4xx, retriable-status-codes each alone', () => {
    const only = (c: string, extra: object = {}) => compileRetryPolicy({ attempts: 1, retryOn: [c], ...extra })!;
    expect(isRetriable(only('connect-failure'), { connectFailure: true })).toBe(true);
    expect(isRetriable(only('connect-failure'), { status: 503 })).toBe(false);
    expect(isRetriable(only('refused-stream'), { refusedStream: true })).toBe(true);
    expect(isRetriable(only('refused-stream'), { reset: true })).toBe(false);
    expect(isRetriable(only('reset'), { reset: true })).toBe(true);
    expect(isRetriable(only('retriable-4xx'), { status: 409 })).toBe(true);
    expect(isRetriable(only('retriable-4xx'), { status: 404 })).toBe(false);
    expect(isRetriable(only('retriable-status-codes', { retriableStatusCodes: [418] }), { status: 418 })).toBe(true);
    expect(isRetriable(only('503'), { status: 503 })).toBe(true); // Istio writes codes inside retryOn
    expect(isRetriable(only('unavailable'), { status: 200, grpcStatus: 14 })).toBe(true);
    expect(isRetriable(only('cancelled'), { status: 200, grpcStatus: 14 })).toBe(false);
  });
  it('attempts bound the retries; non-idempotent methods retry only when the request never left', () => {
    const p = compileRetryPolicy({ attempts: 2, retryOn: ['5xx'] })!;
    expect(shouldRetry(p, { status: 503 }, 1, 'GET')).toBe(true);
    expect(shouldRetry(p, { status: 503 }, 2, 'GET')).toBe(true);
    expect(shouldRetry(p, { status: 503 }, 3, 'GET')).toBe(false);
    expect(shouldRetry(p, { status: 503 }, 1, 'POST')).toBe(false);
    expect(shouldRetry(p, { connectFailure: true }, 1, 'POST')).toBe(true);
    expect(shouldRetry(undefined, { status: 503 }, 1, 'GET')).toBe(false);
    expect(compileRetryPolicy({ attempts: 0, retryOn: ['5xx'] })).toBeUndefined();
  });
  it('back-off is bounded by Envoy defaults', () => {
    expect(retryBackoffMs(1, () => 0.999)).toBeLessThan(25);
    expect(retryBackoffMs(2, () => 0.999)).toBeLessThan(75);
    expect(retryBackoffMs(9, () => 0.999)).toBeLessThan(250);
  });
});
