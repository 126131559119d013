// A sidecar on a host whose clock is two days ahead (libfaketime on the real proxy process): the proxy names the skew
// when its first certificate arrives and does not renew in a loop; it refuses its clients' certificates (expired by
// its clock) so they get 503s; the control plane learns its clock over the stream and `bowline explain` predicts the
// 503 and names that clock, not the certificate.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skewedClockEnv } from '../support/faketime.js';
import { waitFor } from '../support/wait.js';
import { call, TestMesh, type Sidecar } from './mesh-harness.js';

const mesh = new TestMesh();
let productpage: Sidecar;
let reviews: Sidecar;
const TWO_DAYS_S = 2 * 24 * 3600;

beforeAll(async () => {
  await mesh.up();
  productpage = await mesh.sidecar('productpage-v1', 'default', 'bookinfo-productpage', 9080, 'app=productpage,version=v1', 'productpage');
  reviews = await mesh.sidecar('reviews-v1', 'default', 'bookinfo-reviews', 9080, 'app=reviews,version=v1', 'reviews', [], undefined, skewedClockEnv('+48h'));
}, 120_000);
afterAll(async () => {
  await mesh.down();
});

describe('a sidecar whose host clock is two days ahead', () => {
  it('names the skew once, refuses its clients\' certificates (503), and explain blames its clock', async () => {
    // The proxy's own words when its certificate arrived, and no renewal loop (one certificate in the next seconds).
    await waitFor(() => reviews.child.output().includes('BOWLINE_E_IDENTITY_CLOCK_SKEW'), { timeoutMs: 10_000, what: () => `clock-skew error:\n${reviews.child.output()}` });
    expect(reviews.child.output()).toMatch(/this host's clock is at least 17\d{4} s ahead of the CA's: the workload certificate it just issued \(valid .* to .*\) has already expired by it/);
    // The control plane's view of its clock, from the stream.
    const status = await waitFor(async () => {
      const r = await mesh.cli(['proxy-status', '-o', 'json']);
      const list = (JSON.parse(r.out) as { proxies: Array<{ workload: string; clockSkewMs?: number }> }).proxies;
      const rv = list.find((p) => p.workload === 'reviews-v1');
      return rv?.clockSkewMs !== undefined && list.find((p) => p.workload === 'productpage-v1')?.clockSkewMs !== undefined ? list : undefined;
    }, { timeoutMs: 10_000, what: 'proxy-status with clock skews' });
    const skewOf = (w: string) => status!.find((p) => p.workload === w)!.clockSkewMs!;
    expect(Math.abs(skewOf('reviews-v1') / 1000 - TWO_DAYS_S)).toBeLessThan(5);
    expect(Math.abs(skewOf('productpage-v1'))).toBeLessThan(1000);
    const table = await mesh.cli(['proxy-status']);
    expect(table.out).toMatch(/reviews-v1\S*: host clock 17\d{4} s ahead of the control plane's/);
    expect(table.out).not.toMatch(/productpage-v1\S*: host clock/);
    // The dashboard's Security view carries it beside each proxy's certificate.
    const admin = readFileSync(join(mesh.home, 'admin-token'), 'utf8').trim();
    const sec = await (await fetch(`${mesh.api}/ui/api/security`, { headers: { authorization: `Bearer ${admin}` } })).json() as { proxies: Array<{ workload: string; clockSkewMs?: number; notAfter?: string }> };
    const secReviews = sec.proxies.find((p) => p.workload === 'reviews-v1')!;
    expect(Math.abs(secReviews.clockSkewMs! / 1000 - TWO_DAYS_S)).toBeLessThan(5);
    expect(secReviews.notAfter).toBeDefined();

    // Auto-mTLS: productpage presents its certificate (24 h, issued by the CA's clock), which reviews' proxy finds expired.
    const r = await call(productpage.outbound, 'http://reviews:9080/reviews/0');
    expect(r.status).toBe(503);
    await waitFor(() => /client certificate refused: peer certificate has expired \(BOWLINE_E_TLS_PEER_EXPIRED\)/.test(reviews.child.output()), { timeoutMs: 5000, what: () => `reviews' refusal:\n${reviews.child.output().slice(-2000)}` });
    const e = await mesh.cli(['explain', '--from', 'productpage', 'http://reviews:9080/reviews/0']);
    expect(e.code, e.out).toBe(1);
    expect(e.out).toMatch(/server mTLS\s+reviews-v1\.default: PERMISSIVE, client certificate expired \[FAILS\]/);
    expect(e.out).toMatch(/by proxy \S+'s clock, 17\d{4} s ahead of the control plane's; by the control plane's clock it is valid/);
    expect(e.out).toMatch(/Fix: the clock of reviews-v1\.default's host is 17\d{4} s ahead of the control plane's \(the CA's\): synchronise it \(NTP\)/);
    expect(e.out).toMatch(/Outcome: FAILS: 503/);

    // The other way round works: reviews' certificate is valid by productpage's (right) clock... and reviews' own
    // calls out are refused by nobody but itself: its proxy judges productpage's server certificate expired.
    const back = await call(reviews.outbound, 'http://productpage:9080/');
    expect(back.status).toBe(503);
    const e2 = await mesh.cli(['explain', '--from', 'reviews', 'http://productpage:9080/']);
    expect(e2.code, e2.out).toBe(1);
    expect(e2.out).toMatch(/server certificate expired/);
    expect(e2.out).toMatch(/which the client refuses by its clock, 17\d{4} s ahead of the control plane's/);

    // Still one certificate: no renewal loop on the skewed host.
    expect(reviews.child.output().match(/workload certificate for spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-reviews installed/g)).toHaveLength(1);
  }, 60_000);

  it('a sidecar 13 hours behind cannot verify the control plane\'s certificate, and says its clock is why', async () => {
    // The control plane's serving certificate was issued minutes ago by its clock: not valid yet by this host's.
    const err = await mesh.sidecar('ratings-v1', 'default', 'bookinfo-ratings', 9080, 'app=ratings,version=v1', 'ratings', [], undefined, skewedClockEnv('-13h'))
      .then(() => undefined, (e: unknown) => String(e));
    expect(err).toBeDefined(); // no certificate: it never gets a stream
    expect(err).toMatch(/control plane stream lost \(the control plane's certificate is not valid yet by this host's clock \(\S+\): the clock is probably behind the control plane's; synchronise it \(NTP\) \(BOWLINE_E_IDENTITY_CLOCK_SKEW\)\)/);
  }, 60_000);
});

