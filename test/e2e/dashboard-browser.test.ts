// The dashboard in a real browser (Debian's chromium via playwright-core) against `bowline demo`
// with a request loop: live edges with mTLS locks, the 50/50 split on the service page, the
// CONFLICT row after STRICT + DISABLE, and a screenshot of every page (test-artifacts/dashboard-*).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot, runBowline } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { startDemo, built, meshMissing, request, type Demo } from './bookinfo-harness.js';
import { tempDir } from '../support/temp.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const artifacts = `${repoRoot}test-artifacts`;
const REVIEWS = 'reviews.default.svc.cluster.local';

let browser: Browser | undefined;
let demo: Demo | undefined;
let loop: { stop: () => Promise<number> } | undefined;

/** Requests /productpage one after another (at most 2000, for at most 150 s) until stopped. */
function requestLoop(base: string): { stop: () => Promise<number> } {
  let stopped = false;
  let sent = 0;
  const until = Date.now() + 150_000;
  const done = (async () => {
    while (!stopped && sent < 2000 && Date.now() < until) {
      sent++;
      await request(`${base}/productpage`).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 40));
    }
    return sent;
  })();
  return { stop: async () => { stopped = true; return done; } };
}

const shot = (page: Page, name: string) => page.screenshot({ path: `${artifacts}/dashboard-${name}.png`, fullPage: true });

beforeAll(async () => {
  if (!built || !existsSync(CHROMIUM) || meshMissing()) return;
  mkdirSync(artifacts, { recursive: true });
  process.env.BOWLINE_STATS_INTERVAL_MS = '1000'; // the demo's proxies report every second
  demo = await startDemo([], 90_000);
  loop = requestLoop(demo.base);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}, 120_000);
afterAll(async () => {
  await loop?.stop();
  await browser?.close();
  await demo?.interrupt();
  delete process.env.BOWLINE_STATS_INTERVAL_MS;
});

describe.skipIf(!built || !existsSync(CHROMIUM) || !!meshMissing())('dashboard in a browser', () => {
  it('graph: productpage -> reviews edges with non-zero rates and mTLS locks; labels are text in the page', async () => {
    const api = demo!.state.apiUrl!;
    const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${api}/ui/#/graph`);
    const edges = page.locator('g.edge[data-edge^="productpage-v1.default>reviews-"]');
    await waitFor(async () => (await edges.count()) >= 2, { timeoutMs: 30_000, what: 'productpage -> reviews edges' });
    const seen = await page.evaluate(() => [...(globalThis as any).document.querySelectorAll('g.edge[data-edge^="productpage-v1.default>reviews-"]')].map((e: any) => ({
      rps: Number(e.getAttribute('data-rps')), mtls: e.getAttribute('data-mtls'), locks: e.querySelectorAll('.lock').length, text: e.textContent as string,
    })));
    expect(seen.length).toBeGreaterThanOrEqual(2);
    for (const e of seen) {
      expect(e.rps).toBeGreaterThan(0);
      expect(e.mtls).toBe('true');
      expect(e.locks).toBe(1);
      expect(e.text).toMatch(/rps .* mTLS/);
    }
    await expect(page.getByText('productpage v1', { exact: true }).count()).resolves.toBe(1);
    await expect(page.getByRole('button', { name: /gateway istio-ingressgateway/ }).count()).resolves.toBe(1);
    await edges.first().dispatchEvent('click'); // the SVG re-renders every 3 s: a synthetic click, not a wait for stability
    await expect(page.getByRole('complementary', { name: 'Edge details' }).textContent()).resolves.toMatch(/mutual TLS/);
    await shot(page, 'graph');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'graph-phone');
    await page.close();
  });

  it('service page: after the 50/50 rule the split reads 40-60 % for v1 and v3, and v2 gets nothing', async () => {
    const api = demo!.state.apiUrl!;
    const apply = await runBowline(['apply', '--server', api, '-f', join(repoRoot, 'samples/networking/virtual-service-reviews-50-v3.yaml')]);
    expect(apply.code, apply.err).toBe(0);
    const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${api}/ui/#/service/${REVIEWS}?period=20`);
    // The split covers the last 20 s: wait until it holds only traffic sent after the rule.
    const split = await waitFor(async () => {
      // Read in one step: the page re-renders every few seconds.
      const got = await page.evaluate(() => Object.fromEntries([...(globalThis as any).document.querySelectorAll('.split [data-version]')].map((e: any) => [e.getAttribute('data-version'), Number(e.getAttribute('data-percent'))]))) as Record<string, number>;
      return Object.keys(got).sort().join() === 'v1,v3' ? got : undefined;
    }, { timeoutMs: 60_000, intervalMs: 1000, what: 'a split of only v1 and v3' }) as Record<string, number>;
    expect(split.v1).toBeGreaterThanOrEqual(40);
    expect(split.v1).toBeLessThanOrEqual(60);
    expect(split.v3).toBeGreaterThanOrEqual(40);
    expect(split.v3).toBeLessThanOrEqual(60);
    await expect(page.getByRole('figure', { name: 'Requests per second by version' }).count()).resolves.toBe(1);
    await expect(page.locator('details[data-resource="VirtualService/default/reviews"]').count()).resolves.toBe(1);
    await shot(page, 'service');
    await page.goto(`${api}/ui/#/config`);
    await page.locator('details[data-resource]').first().waitFor();
    await shot(page, 'config');
    await page.goto(`${api}/ui/#/proxies`);
    await page.locator('tr[data-proxy]').first().waitFor();
    expect(await page.locator('tr[data-proxy] td.state-SYNCED').count()).toBeGreaterThan(0);
    await shot(page, 'proxies');
    await page.close();
  });

  it('security page: STRICT PeerAuthentication + DISABLE DestinationRule shows the CONFLICT row with its fix', async () => {
    const api = demo!.state.apiUrl!;
    const dir = tempDir('bowline-dash-e2e-');
    const dr = join(dir, 'reviews-disable.yaml');
    writeFileSync(dr, 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: reviews\n  namespace: default\nspec:\n  host: reviews\n  trafficPolicy:\n    tls:\n      mode: DISABLE\n  subsets:\n  - name: v1\n    labels: {version: v1}\n  - name: v2\n    labels: {version: v2}\n  - name: v3\n    labels: {version: v3}\n');
    const apply = await runBowline(['apply', '--server', api, '-f', join(repoRoot, 'samples/networking/peer-authentication-strict.yaml'), '-f', dr]);
    expect(apply.code, apply.err).toBe(0);
    const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${api}/ui/#/security`);
    const row = page.locator(`tr.conflict[data-host="${REVIEWS}"]`).first();
    await row.waitFor({ timeout: 20_000 });
    expect(await row.textContent()).toMatch(/CONFLICT/);
    expect(await row.textContent()).toMatch(/set trafficPolicy\.tls\.mode ISTIO_MUTUAL/);
    await expect(page.getByRole('status').first().textContent()).resolves.toMatch(/CONFLICT row/);
    await shot(page, 'security');
    await page.close();
    for (const name of ['graph', 'graph-phone', 'service', 'config', 'security', 'proxies']) expect(existsSync(`${artifacts}/dashboard-${name}.png`)).toBe(true);
  });
});
