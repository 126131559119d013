// Istio's Bookinfo walkthroughs as test cases, shared by the demo runs that must pass them:
// `bowline demo` (bookinfo-scenarios.test.ts) and `bowline demo --capture` (bookinfo-capture.test.ts).
// Each file starts its demo, calls useWalkthroughs for the apply/delete helpers (rules applied by a
// case are deleted after it), and registers the cases it runs with `it(name, fn)`.
import { afterEach, expect } from 'vitest';
import { repoRoot, runBowline } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { request, demoDiagnostics, reviewsVersions, untilReviews, type Demo } from './bookinfo-harness.js';

/** A sample rule file by name (samples/networking/NAME.yaml). */
export const net = (f: string): string => `${repoRoot}samples/networking/${f}.yaml`;
const REVIEWS_UNAVAILABLE = 'Sorry, product reviews are currently unavailable for this book.';

/** What the cases read: the running demo and jason's session cookie (set in the file's beforeAll). */
export interface WalkthroughState {
  demo?: Demo;
  jason?: string;
}

/** The helpers a walkthrough file uses; registers the afterEach that deletes what a case applied. */
export function useWalkthroughs(state: WalkthroughState, skip: boolean) {
  const applied: string[] = [];
  const bowline = async (args: string[]): Promise<{ code: number; out: string }> => {
    const r = await runBowline([...args, '--server', state.demo!.state.apiUrl!]);
    return { code: r.code, out: r.out + r.err };
  };
  const apply = async (...files: string[]): Promise<void> => {
    for (const f of files) {
      const r = await bowline(['apply', '-f', net(f)]);
      expect(r.code, r.out).toBe(0);
      applied.push(f);
    }
  };
  afterEach(async (ctx) => {
    if (skip || !state.demo) return;
    // A failed walkthrough says which demo process died or refused its config, and where its log is.
    if (ctx.task.result?.state === 'fail') process.stderr.write(`${demoDiagnostics(state.demo)}\n`);
    for (const f of applied.splice(0).reverse()) await bowline(['delete', '-f', net(f)]);
  });
  const base = () => state.demo!.base;
  const versions = (n: number, cookie?: string) => reviewsVersions(base(), n, cookie);
  const until = (version: string, cookie?: string, n = 10) => untilReviews(base(), version, cookie, n);

  /** The walkthroughs, by the letter bookinfo-scenarios.test.ts gives them. */
  const cases: Record<string, { name: string; run: () => Promise<void>; timeoutMs?: number }> = {
    a: { name: '(a) without rules, reviews v1, v2 and v3 all answer', async run() {
      await waitFor(async () => new Set(await versions(30)).size === 3, { timeoutMs: 15_000, what: 'all three versions' });
      expect(new Set(await versions(30))).toEqual(new Set(['v1', 'v2', 'v3']));
      const page = await request(`${base()}/productpage`);
      expect(page.status).toBe(200);
      expect(page.text).toContain('The Comedy of Errors');
      expect(page.text).toContain('William Shakespeare');
    } },
    b: { name: '(b) all-v1 sends everyone to reviews v1 (no stars)', async run() {
      await apply('virtual-service-all-v1');
      await until('v1');
      expect(await versions(20, state.jason)).toEqual(Array(20).fill('v1'));
      expect((await request(`${base()}/productpage`)).text).not.toContain('class="stars');
    } },
    c: { name: '(c) reviews-v3 sends everyone to v3 (red stars)', async run() {
      await apply('virtual-service-all-v1', 'virtual-service-reviews-v3');
      await until('v3');
      expect((await request(`${base()}/productpage`)).text).toContain('stars-red');
    } },
    d: { name: '(d) jason -> v2 (signed in through the form), everyone else -> v3', async run() {
      await apply('virtual-service-all-v1', 'virtual-service-reviews-jason-v2-v3');
      await until('v2', state.jason);
      await until('v3');
      const page = await request(`${base()}/productpage`, { headers: { cookie: state.jason! } });
      expect(page.text).toContain('<strong id="signed-in-user">jason</strong>');
      expect(page.text).toContain('stars-black');
    } },
    e: { name: '(e) a 7 s ratings delay for jason: productpage gives up after ~6 s (the timeout bug), and recovers when the rule is deleted', async run() {
      await apply('virtual-service-all-v1', 'virtual-service-reviews-test-v2');
      await until('v2', state.jason);
      await apply('virtual-service-ratings-test-delay');
      const slow = (await waitFor(async () => {
        const r = await request(`${base()}/productpage`, { headers: { cookie: state.jason! } });
        return r.text.includes(REVIEWS_UNAVAILABLE) ? r : undefined;
      }, { timeoutMs: 40_000, intervalMs: 100, what: 'the reviews-unavailable message for jason' }))!;
      expect(slow.ms).toBeGreaterThan(5500);
      expect(slow.ms).toBeLessThan(9000);
      const anonymous = await request(`${base()}/productpage`);
      expect(anonymous.ms).toBeLessThan(3000);
      expect(anonymous.text).not.toContain(REVIEWS_UNAVAILABLE);

      expect((await bowline(['delete', '-f', net('virtual-service-ratings-test-delay')])).code).toBe(0);
      applied.splice(applied.indexOf('virtual-service-ratings-test-delay'), 1);
      const fast = (await waitFor(async () => {
        const r = await request(`${base()}/productpage`, { headers: { cookie: state.jason! } });
        return r.text.includes('stars-black') ? r : undefined;
      }, { timeoutMs: 20_000, intervalMs: 100, what: 'black stars again' }))!;
      expect(fast.ms).toBeLessThan(3000);
    } },
    f: { name: '(f) 50/50 v1/v3 over 400 requests within +-5 %, then 100 % v3', timeoutMs: 120_000, async run() {
      await apply('virtual-service-all-v1');
      await until('v1');
      await apply('virtual-service-reviews-50-v3');
      await waitFor(async () => (await versions(10)).includes('v3'), { timeoutMs: 15_000, what: 'v3 in the split' });
      const seen = await versions(400);
      const v1 = seen.filter((v) => v === 'v1').length / seen.length;
      const v3 = seen.filter((v) => v === 'v3').length / seen.length;
      expect(v1 + v3).toBe(1);
      expect(Math.abs(v1 - 0.5)).toBeLessThanOrEqual(0.05);
      await apply('virtual-service-reviews-v3');
      await until('v3', undefined, 20);
    } },
    h: { name: '(h) abort 500 on ratings for jason, then abort 555 on details', async run() {
      await apply('virtual-service-all-v1', 'virtual-service-reviews-test-v2');
      await until('v2', state.jason);
      await apply('virtual-service-ratings-test-abort');
      await waitFor(async () => (await request(`${base()}/productpage`, { headers: { cookie: state.jason! } })).text.includes('Ratings service is currently unavailable'), { timeoutMs: 15_000, what: 'ratings unavailable for jason' });
      expect((await request(`${base()}/productpage`)).text).not.toContain('Ratings service is currently unavailable');

      await apply('virtual-service-details-abort-555');
      const api = (await waitFor(async () => {
        const r = await request(`${base()}/api/v1/products/0`);
        return r.status === 555 ? r : undefined;
      }, { timeoutMs: 15_000, what: 'details 555' }))!;
      expect(JSON.parse(api.text).error).toBe('Sorry, product details are currently unavailable for this book.');
      expect((await request(`${base()}/productpage`)).text).toContain('Sorry, product details are currently unavailable for this book.');
    } },
  };
  return { bowline, apply, applied, cases };
}
