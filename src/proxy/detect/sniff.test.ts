// Protocol sniffing on first bytes: every prefix of a real request either decides correctly or
// asks for more; garbage decides TCP at once.
import { describe, expect, it } from 'vitest';
import { H2_PREFACE, sniff } from './sniff.js';

describe('sniff', () => {
  it('decides HTTP/1.x from the method and a space, asking for more before', () => {
    const req = Buffer.from('M-SEARCH * HTTP/1.1\r\n');
    expect(sniff(req.subarray(0, 3))).toBeUndefined();
    expect(sniff(req)).toBe('http1');
    expect(sniff(Buffer.from('GET / HTTP/1.1\r\n'))).toBe('http1');
  });

  it('needs the whole HTTP/2 preface, and a PRI that is not the preface is HTTP/1-looking', () => {
    for (let i = 1; i < H2_PREFACE.length; i++) expect(sniff(H2_PREFACE.subarray(0, i))).toBeUndefined();
    expect(sniff(H2_PREFACE)).toBe('http2');
    expect(sniff(Buffer.from('PRI * HTTP/1.1\r\n'))).toBe('http1');
  });

  it('decides TLS from the record header', () => {
    expect(sniff(Buffer.from([0x16]))).toBeUndefined();
    expect(sniff(Buffer.from([0x16, 3, 1]))).toBe('tls');
    expect(sniff(Buffer.from([0x16, 9, 9]))).toBe('tcp');
  });

  it('decides TCP for anything else at once', () => {
    expect(sniff(Buffer.from([0, 1, 2]))).toBe('tcp');
    expect(sniff(Buffer.from('get / HTTP/1.1'))).toBe('tcp');
    expect(sniff(Buffer.from(' GET'))).toBe('tcp');
    expect(sniff(Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ'))).toBe('tcp');
    expect(sniff(Buffer.alloc(0))).toBeUndefined();
  });
});
