// A real browser (Debian's chromium, driven by playwright-core; never a browser download)
// opens the product page, signs in as jason through the form and sees black stars.
import { afterAll, beforeAll, afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { repoRoot } from '../support/process.js';
import { startDemo, built, meshMissing, type Demo } from './bookinfo-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const artifacts = `${repoRoot}test-artifacts`;

let browser: Browser | undefined;
let demo: Demo | undefined;
beforeAll(async () => {
  if (built && existsSync(CHROMIUM)) browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  mkdirSync(artifacts, { recursive: true });
});
afterAll(async () => { await browser?.close(); });
afterEach(async () => { await demo?.interrupt(); demo = undefined; });

/** Opens the product page, checks the anonymous view with `before`, signs in as jason, and returns the page. */
async function signInAsJason(base: string, screenshot: string) {
  const page = await browser!.newPage();
  await page.goto(`${base}/productpage`);
  await expect(page.locator('#product-title').textContent()).resolves.toBe('The Comedy of Errors');
  const anonymousBlack = await page.locator('.stars-black').count();
  await page.fill('#username', 'jason');
  await page.fill('#passwd', 'any password');
  await Promise.all([page.waitForURL('**/productpage'), page.click('#sign-in')]);
  await expect(page.locator('#signed-in-user').textContent()).resolves.toBe('jason');
  const stars = page.locator('.stars-black').first();
  await stars.waitFor({ state: 'visible' });
  const color = await stars.evaluate((el) => (globalThis as any).getComputedStyle(el).color as string);
  await page.screenshot({ path: `${artifacts}/${screenshot}`, fullPage: true });
  return { page, anonymousBlack, color, text: (await stars.textContent()) ?? '' };
}

describe.skipIf(!built || !existsSync(CHROMIUM))('browser', () => {
  it.skipIf(!!meshMissing())(`through the gateway with the jason rule: anonymous users see no stars, jason black stars (${meshMissing() ?? 'mesh present'})`, async () => {
    demo = await startDemo(['--scenario', 'test-v2'], 120_000); // a loaded machine starts the demo slowly (test bound: 180 s)
    const r = await signInAsJason(demo.base, 'bookinfo-jason-gateway.png');
    expect(r.anonymousBlack).toBe(0);
    expect(r.color).toBe('rgb(0, 0, 0)');
    expect(r.text).toContain('\u2605');
    expect(existsSync(`${artifacts}/bookinfo-jason-gateway.png`)).toBe(true);
    await r.page.click('#sign-out');
    await r.page.locator('#login-form').waitFor();
  }, 180_000);

  it('--no-mesh: the page signs jason in through the form and shows black stars (reviews v2 wired directly)', async () => {
    demo = await startDemo(['--no-mesh']);
    const r = await signInAsJason(demo.base, 'bookinfo-jason-no-mesh.png');
    expect(r.color).toBe('rgb(0, 0, 0)');
    expect(r.text.startsWith('\u2605\u2605\u2605\u2605\u2605')).toBe(true);
    expect(existsSync(`${artifacts}/bookinfo-jason-no-mesh.png`)).toBe(true);
    await r.page.click('#sign-out');
    await r.page.locator('#login-form').waitFor();
    await r.page.close();
  });
});
