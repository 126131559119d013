import { describe, expect, it } from 'vitest';
import { parseListen, tryParseHostPort } from './host-port.js';

describe('HOST:PORT', () => {
  it('parses names, IPv4, bracketed IPv6 and an empty host', () => {
    expect(tryParseHostPort('bowline.istio-system.svc:15012')).toEqual({ host: 'bowline.istio-system.svc', port: 15012 });
    expect(tryParseHostPort(' 127.0.0.1:0 ')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(tryParseHostPort('[::1]:15010')).toEqual({ host: '::1', port: 15010 });
    expect(tryParseHostPort(':15014')).toEqual({ host: '', port: 15014 });
    expect(parseListen(':15014')).toEqual({ host: '0.0.0.0', port: 15014 });
  });

  it('refuses what is not HOST:PORT, naming the flag', () => {
    for (const bad of ['127.0.0.1', '::1:80', 'host:65536', 'host:-1', 'http://h:1', 'a b:1', '[zz]:1', 'host:']) expect(tryParseHostPort(bad)).toBeUndefined();
    expect(() => parseListen('nope', '--listen-push')).toThrow('--listen-push "nope" is not HOST:PORT');
  });
});
