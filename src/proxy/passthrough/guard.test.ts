import { describe, expect, it } from 'vitest';
import { isLocalAddress, passthroughTarget, splitHostPort } from './guard.js';

describe('passthrough guard', () => {
  it('splits host:port with defaults and IPv6 brackets', () => {
    expect(splitHostPort('example.com', 80)).toEqual({ host: 'example.com', port: 80 });
    expect(splitHostPort('example.com:8443', 443)).toEqual({ host: 'example.com', port: 8443 });
    expect(splitHostPort('[::1]:9000', 80)).toEqual({ host: '::1', port: 9000 });
    expect(splitHostPort('a:b:c', 80)).toBeUndefined();
    expect(splitHostPort('host:0', 80)).toBeUndefined();
  });

  it('treats the loopback range and unspecified addresses as local', () => {
    expect(isLocalAddress('127.0.0.1')).toBe(true);
    expect(isLocalAddress('127.127.42.69')).toBe(true);
    expect(isLocalAddress('::1')).toBe(true);
    expect(isLocalAddress('::ffff:127.0.0.1')).toBe(true);
    expect(isLocalAddress('0.0.0.0')).toBe(true);
    expect(isLocalAddress('192.0.2.1')).toBe(false);
  });

  it("refuses the proxy's own local ports and every destination on a gateway", async () => {
    const own = { role: 'sidecar' as const, ports: new Set([15000]) };
    expect(await passthroughTarget(own, '127.0.0.1', 15000)).toEqual({ refused: "127.0.0.1:15000 is this proxy's own port" });
    expect(await passthroughTarget(own, '127.0.0.1', 8080)).toEqual({ address: '127.0.0.1', port: 8080 });
    expect(await passthroughTarget(own, '192.0.2.1', 15000)).toEqual({ address: '192.0.2.1', port: 15000 });
    expect(await passthroughTarget({ role: 'gateway', ports: new Set() }, '192.0.2.1', 80)).toHaveProperty('refused');
  });
});
