// RFC 9113 8.2-8.3 checks of a request header list: what is accepted (and how it becomes a
// RequestHead) and each way a request is malformed.
import { describe, expect, it } from 'vitest';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, type RequestHead } from '../http/request-head.js';
import { listSize, MalformedRequest, requestHead } from './request.js';

const base = [':method', 'GET', ':scheme', 'http', ':path', '/a?b=1', ':authority', 'svc:80'];
const head = (list: string[], end = true, secure = false): RequestHead => {
  const h = requestHead(list, end, secure);
  if (h instanceof MalformedRequest) throw new Error(h.reason);
  return h;
};
const why = (list: string[], end = true): string => {
  const h = requestHead(list, end, false);
  return h instanceof MalformedRequest ? h.reason : 'accepted';
};

describe('a well-formed request', () => {
  it('becomes a RequestHead: pseudo-headers to method/path/authority/scheme, fields kept in order', () => {
    const h = head([...base, 'x-a', '1', 'accept', '*/*', 'x-a', '2']);
    expect(h).toMatchObject({ method: 'GET', path: '/a?b=1', authority: 'svc:80', scheme: 'http', bodyKind: BODY_NONE });
    expect(h.headers.names).toEqual(['x-a', 'accept', 'x-a']);
    expect(h.headers.values).toEqual(['1', '*/*', '2']);
  });
  it('body framing: END_STREAM -> none, content-length -> length, else streamed', () => {
    expect(head([...base, 'content-length', '5'], false)).toMatchObject({ bodyKind: BODY_LENGTH, contentLength: 5 });
    expect(head(base, false).bodyKind).toBe(BODY_CHUNKED);
    expect(head([...base, 'content-length', '0'], true).bodyKind).toBe(BODY_NONE);
  });
  it('joins cookie crumbs with "; " (8.2.3), takes host when :authority is absent, drops host as a field', () => {
    const h = head([':method', 'GET', ':scheme', 'https', ':path', '/', 'cookie', 'a=1', 'host', 'h.example', 'cookie', 'b=2']);
    expect(h.authority).toBe('h.example');
    expect(h.headers.get('cookie')).toBe('a=1; b=2');
    expect(h.headers.get('host')).toBeUndefined();
  });
  it('keeps te: trailers; CONNECT takes :authority alone; the scheme defaults to the transport', () => {
    expect(head([...base, 'te', 'trailers']).headers.get('te')).toBe('trailers');
    expect(head([':method', 'CONNECT', ':authority', 'db:5432'], false)).toMatchObject({ method: 'CONNECT', authority: 'db:5432', scheme: 'http' });
    expect(head([':method', 'CONNECT', ':authority', 'db:5432'], false, true).scheme).toBe('https');
  });
  it('counts the list size as SETTINGS_MAX_HEADER_LIST_SIZE does (name + value + 32)', () => {
    expect(listSize(['ab', 'cde', 'f', ''])).toBe(2 + 3 + 32 + 1 + 32);
  });
});

describe('malformed requests (stream error PROTOCOL_ERROR)', () => {
  it.each([
    ['a pseudo-header after a regular field', ['x-a', '1', ...base], /after a regular field/],
    ['an unknown pseudo-header', [...base.slice(0, 6), ':protocol', 'websocket', ...base.slice(6)], /unknown pseudo-header/],
    ['a repeated :path', [...base.slice(0, 6), ':path', '/b', ...base.slice(6)], /repeated :path/],
    ['no :method', base.slice(2), /missing :method/],
    ['no :scheme', [':method', 'GET', ':path', '/'], /missing :scheme/],
    ['an empty :path', [':method', 'GET', ':scheme', 'http', ':path', ''], /missing :path/],
    ['CONNECT with :path', [':method', 'CONNECT', ':authority', 'a:1', ':path', '/'], /CONNECT with/],
    ['an upper-case field name', [...base, 'X-Upper', '1'], /invalid header name/],
    ['a name that is not a token', [...base, 'a b', '1'], /invalid header name/],
    ['connection-specific fields', [...base, 'connection', 'keep-alive'], /connection-specific/],
    ['transfer-encoding', [...base, 'transfer-encoding', 'chunked'], /connection-specific/],
    ['te other than trailers', [...base, 'te', 'gzip'], /te other than/],
    ['CR/LF in a value', [...base, 'x-a', 'v\r\nx-b: 1'], /invalid character/],
    ['NUL in a value', [...base, 'x-a', 'a\u0000b'], /invalid character/],
    ['leading whitespace in a value', [...base, 'x-a', ' v'], /surrounding whitespace/],
    ['a non-numeric content-length', [...base, 'content-length', '5x'], /invalid content-length/],
    ['conflicting content-lengths', [...base, 'content-length', '5', 'content-length', '6'], /conflicting/],
    ['a content-length on a request without a body', [...base, 'content-length', '5'], /without a body/],
  ])('%s', (_name, list, reason) => {
    expect(why(list as string[])).toMatch(reason as RegExp);
  });
});

describe('fields validated once per connection position', () => {
  it('a repeated field is accepted again, and a changed one is checked again', () => {
    const valid: string[] = [];
    const base = [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'a', 'x-v', 'ok'];
    expect(requestHead(base, true, false, valid)).not.toBeInstanceOf(MalformedRequest);
    expect(requestHead(base, true, false, valid)).not.toBeInstanceOf(MalformedRequest);
    expect(requestHead([...base.slice(0, 8), 'x-v', 'bad\x01'], true, false, valid)).toBeInstanceOf(MalformedRequest);
    expect(requestHead([...base.slice(0, 8), 'X-V', 'ok'], true, false, valid)).toBeInstanceOf(MalformedRequest);
    expect(requestHead([...base.slice(0, 6), ':authority', ' a', 'x-v', 'ok'], true, false, valid)).toBeInstanceOf(MalformedRequest);
    expect(requestHead(base, true, false, valid)).not.toBeInstanceOf(MalformedRequest);
  });
});
