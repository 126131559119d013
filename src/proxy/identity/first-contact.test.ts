import { describe, expect, it } from 'vitest';
import { streamTlsMessage } from './first-contact.js';

describe('the push stream\'s TLS failures, said for a person', () => {
  const at = Date.parse('2026-01-01T00:00:00.000Z');
  const err = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('a control-plane certificate not valid yet or expired by this host\'s clock names the clock and BOWLINE_E_IDENTITY_CLOCK_SKEW', () => {
    expect(streamTlsMessage(err('CERT_NOT_YET_VALID', 'certificate is not yet valid'), at)).toBe(
      "the control plane's certificate is not valid yet by this host's clock (2026-01-01T00:00:00.000Z): the clock is probably behind the control plane's; synchronise it (NTP) (BOWLINE_E_IDENTITY_CLOCK_SKEW)");
    expect(streamTlsMessage(err('CERT_HAS_EXPIRED', 'certificate has expired'), at)).toMatch(/^the control plane's certificate has expired by this host's clock \(2026-01-01T00:00:00\.000Z\): either the clock is ahead .*BOWLINE_E_IDENTITY_CLOCK_SKEW.* or the control plane's serving certificate ran out$/);
  });

  it('any other failure keeps its own words', () => {
    expect(streamTlsMessage(err('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:15012'), at)).toBe('connect ECONNREFUSED 127.0.0.1:15012');
    expect(streamTlsMessage(new Error('self-signed certificate in certificate chain'), at)).toBe('self-signed certificate in certificate chain');
  });
});
