import { describe, expect, it } from 'vitest';
import { isLocalAddress, PassthroughCache, passthroughTarget, splitHostPort } from './guard.js';

describe('passthrough guard', () => {
  it('splits host:port with defaults and IPv6 brackets', () => {
    expect(splitHostPort('example.com', 80)).toEqual({ host: 'example.com', port: 80 });
    expect(splitHostPort('example.com:8443', 443)).toEqual({ host: 'example.com', port: 8443 });
    expect(splitHostPort('[::1]:9000', 80)).toEqual({ host: '::1', port: 9000 });
    expect(splitHostPort('a:b:c', 80)).toBeUndefined();
    expect(splitHostPort('host:0', 80)).toBeUndefined();
  });

  it('treats the loopback range and unspecified addresses as local', () => {
    const cache = new PassthroughCache();
    expect(isLocalAddress('127.0.0.1', cache)).toBe(true);
    expect(isLocalAddress('127.127.42.69', cache)).toBe(true);
    expect(isLocalAddress('::1', cache)).toBe(true);
    expect(isLocalAddress('::ffff:127.0.0.1', cache)).toBe(true);
    expect(isLocalAddress('0.0.0.0', cache)).toBe(true);
    expect(isLocalAddress('192.0.2.1', cache)).toBe(false);
  });

  it("refuses the proxy's own local ports and every destination on a gateway", async () => {
    const own = { role: 'sidecar' as const, ports: new Set([15000]), cache: new PassthroughCache() };
    expect(await passthroughTarget(own, '127.0.0.1', 15000)).toEqual({ refused: "127.0.0.1:15000 is this proxy's own port" });
    expect(await passthroughTarget(own, '127.0.0.1', 8080)).toEqual({ address: '127.0.0.1', port: 8080 });
    expect(await passthroughTarget(own, '192.0.2.1', 15000)).toEqual({ address: '192.0.2.1', port: 15000 });
    expect(await passthroughTarget({ role: 'gateway', ports: new Set(), cache: new PassthroughCache() }, '192.0.2.1', 80)).toHaveProperty('refused');
  });

  it('keeps each proxy\'s resolved names to itself and honours their 5 s lifetime on the proxy\'s clock', async () => {
    let now = 1_000_000;
    const asked: string[] = [];
    // Each proxy's resolver answers with its own address, as two proxies behind different resolvers would.
    const cacheA = new PassthroughCache(() => now, async (h) => { asked.push(`a:${h}`); return '192.0.2.10'; });
    const cacheB = new PassthroughCache(() => now, async (h) => { asked.push(`b:${h}`); return '192.0.2.20'; });
    const a = { role: 'sidecar' as const, ports: new Set<number>(), cache: cacheA };
    const b = { role: 'sidecar' as const, ports: new Set<number>(), cache: cacheB };
    expect(await passthroughTarget(a, 'api.example.com', 443)).toEqual({ address: '192.0.2.10', port: 443 });
    expect(await passthroughTarget(a, 'api.example.com', 443)).toEqual({ address: '192.0.2.10', port: 443 });
    // Proxy B never sees A's answer (one module-level cache handed it 192.0.2.10 without asking).
    expect(await passthroughTarget(b, 'api.example.com', 443)).toEqual({ address: '192.0.2.20', port: 443 });
    expect(asked).toEqual(['a:api.example.com', 'b:api.example.com']);
    now += 4999;
    await passthroughTarget(a, 'api.example.com', 443);
    expect(asked).toHaveLength(2);
    now += 1;
    await passthroughTarget(a, 'api.example.com', 443);
    expect(asked).toEqual(['a:api.example.com', 'b:api.example.com', 'a:api.example.com']);
  });

  it('refuses a name that resolves to the proxy\'s own local port', async () => {
    const own = { role: 'sidecar' as const, ports: new Set([15000]), cache: new PassthroughCache(Date.now, async () => '127.0.0.1') };
    expect(await passthroughTarget(own, 'sneaky.example.com', 15000)).toEqual({ refused: "sneaky.example.com:15000 is this proxy's own port" });
  });
});
