import { describe, expect, it } from 'vitest';
import { captureRules, defaultCaptureOptions, formatRules } from './rules.js';

describe('capture rules', () => {
  it('exempts the proxy user and 127.0.0.1 only, and redirects outbound TCP to 15001', () => {
    const r = captureRules(defaultCaptureOptions());
    const lines = r.v4.split('\n');
    const uid = lines.indexOf('-A BOWLINE_OUTPUT -m owner --uid-owner bowline-proxy -j RETURN');
    const lo = lines.indexOf('-A BOWLINE_OUTPUT -d 127.0.0.1/32 -j RETURN');
    const all = lines.indexOf('-A BOWLINE_OUTPUT -j BOWLINE_REDIRECT');
    expect(uid).toBeGreaterThan(0);
    expect(lo).toBeGreaterThan(uid);
    expect(all).toBeGreaterThan(lo);
    expect(lines).toContain('-A BOWLINE_REDIRECT -p tcp -j REDIRECT --to-ports 15001');
    expect(r.v4).not.toContain('127.0.0.0/8');
  });

  it("never captures the proxy's own ports inbound; a port list captures only those", () => {
    const r = captureRules({ ...defaultCaptureOptions(), includeInboundPorts: [27017, 3306, 8080, 15000] });
    for (const p of [15000, 15001, 15006, 15020, 15021, 15053, 15090]) expect(r.v4).toContain(`-A BOWLINE_INBOUND -p tcp --dport ${p} -j RETURN`);
    expect(r.v4).toContain('-A BOWLINE_INBOUND -p tcp --dport 3306 -j BOWLINE_IN_REDIRECT');
    expect(r.v4).not.toContain('--dport 15000 -j BOWLINE_IN_REDIRECT');
    expect(r.v4).not.toContain('-A BOWLINE_INBOUND -p tcp -j BOWLINE_IN_REDIRECT');
  });

  it('include/exclude CIDRs and ports; DNS redirect with the proxy exempt; IPv6 refused, not open', () => {
    const r = captureRules({ ...defaultCaptureOptions(), proxyUid: '1337', includeCidrs: ['10.96.0.0/12', 'fd00::/8'], excludeCidrs: ['10.96.0.10/32'], excludeOutboundPorts: [22], dns: true });
    expect(r.v4).toContain('-A BOWLINE_OUTPUT -d 10.96.0.10/32 -j RETURN');
    expect(r.v4).toContain('-A BOWLINE_OUTPUT -d 10.96.0.0/12 -j BOWLINE_REDIRECT');
    expect(r.v4).not.toContain('fd00::/8');
    expect(r.v4).toContain('-A BOWLINE_OUTPUT -p tcp --dport 22 -j RETURN');
    expect(r.v4).toContain('-A BOWLINE_DNS -m owner --uid-owner 1337 -j RETURN');
    expect(r.v4).toContain('-A BOWLINE_DNS -p udp --dport 53 -j REDIRECT --to-ports 15053');
    expect(r.v6).toContain('-A BOWLINE_OUTPUT -d fd00::/8 -p tcp --syn -j REJECT --reject-with tcp-reset');
    expect(r.jumps.map((j) => `${j.family} ${j.chain} ${j.rule.join(' ')}`)).toEqual([
      '4 PREROUTING -p tcp -j BOWLINE_INBOUND', '4 OUTPUT -p tcp -j BOWLINE_OUTPUT', '4 OUTPUT -p udp -j BOWLINE_DNS', '6 INPUT -j BOWLINE_INBOUND', '6 OUTPUT -j BOWLINE_OUTPUT',
    ]);
    expect(formatRules(r)).toContain('iptables -t nat -A OUTPUT -p tcp -j BOWLINE_OUTPUT');
  });
});
