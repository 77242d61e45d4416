// What the admin page suites share: logging in through the login page, and the checks every page gets
// (axe-core: no serious or critical violation; screenshots at 360 and 1280 px for a person to look at).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AxeBuilder } from '@axe-core/playwright';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';

// SCREENSHOT_DIR puts them elsewhere (outside the checkout, say).
const screenshots =
  process.env.SCREENSHOT_DIR ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../output/screenshots');

/**
 * A page in its own context that records console errors and page errors (a CSP violation shows up as
 * one). A page answered with a 4xx on purpose (a form shown again with its messages) is not a problem.
 */
export async function watchedPage(
  browser: Browser,
  width = 1280,
): Promise<{ page: Page; problems: string[] }> {
  const problems: string[] = [];
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  const refusedPages = new Set<string>();
  page.on('response', (response) => {
    const status = response.status();
    if (response.request().resourceType() === 'document' && status >= 400 && status < 500)
      refusedPages.add(response.url());
  });
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    if (refusedPages.has(message.location().url) && message.text().startsWith('Failed to load resource'))
      return;
    problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  return { page, problems };
}

export async function logInOnPage(
  page: Page,
  baseUrl: string,
  credentials: { email: string; password: string },
) {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('Email').fill(credentials.email);
  await page.getByLabel('Password').fill(credentials.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((url) => url.pathname !== '/login');
}

/** axe-core on the page as it is now: no serious or critical violation. */
export async function expectAccessible(page: Page): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const serious = violations.filter(
    (violation) => violation.impact === 'serious' || violation.impact === 'critical',
  );
  expect(
    serious.map(
      (violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`,
    ),
    page.url(),
  ).to.deep.equal([]);
}

/** Full-page screenshots at a phone's and a desktop's width, as test/output/screenshots/<name>-<width>.png. */
export async function screenshots360And1280(page: Page, name: string): Promise<void> {
  mkdirSync(screenshots, { recursive: true });
  const original = page.viewportSize() ?? { width: 1280, height: 900 };
  for (const width of [360, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: path.join(screenshots, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize(original);
}
