// gRPC helpers: grpc-timeout parsing, status names, Envoy's HTTP -> gRPC status mapping.
import { describe, expect, it } from 'vitest';
import { grpcCode, grpcFromHttp, grpcMessage, grpcTimeoutMs, isGrpc } from './grpc.js';

describe('gRPC helpers', () => {
  it('parses grpc-timeout units and refuses malformed values', () => {
    expect(grpcTimeoutMs('100m')).toBe(100);
    expect(grpcTimeoutMs('2S')).toBe(2000);
    expect(grpcTimeoutMs('1M')).toBe(60_000);
    expect(grpcTimeoutMs('1H')).toBe(3_600_000);
    expect(grpcTimeoutMs('1500u')).toBe(2);
    expect(grpcTimeoutMs('10n')).toBe(1);
    expect(grpcTimeoutMs('123456789m')).toBeUndefined();
    expect(grpcTimeoutMs('5s')).toBeUndefined();
    expect(grpcTimeoutMs(undefined)).toBeUndefined();
  });

  it('knows status names and numbers, and maps HTTP statuses as Envoy does', () => {
    expect(grpcCode('UNAVAILABLE')).toBe(14);
    expect(grpcCode('resource_exhausted')).toBe(8);
    expect(grpcCode('4')).toBe(4);
    expect(grpcCode('17')).toBeUndefined();
    expect(grpcCode('NOPE')).toBeUndefined();
    expect([400, 401, 403, 404, 429, 503, 504, 500].map(grpcFromHttp)).toEqual([13, 16, 7, 12, 14, 14, 14, 2]);
  });

  it('recognises gRPC content types but not gRPC-Web, and percent-encodes messages', () => {
    expect(isGrpc('application/grpc')).toBe(true);
    expect(isGrpc('application/grpc+proto')).toBe(true);
    expect(isGrpc('application/grpc-web')).toBe(false);
    expect(isGrpc(undefined)).toBe(false);
    expect(grpcMessage('no route: 100% ünïcode')).toBe('no route: 100%25 %C3%BCn%C3%AFcode');
  });
});
