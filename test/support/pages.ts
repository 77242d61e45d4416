// What the patient-page browser suites share: a signed-up patient in a browser context, the
// accessibility check, screenshots at phone and desktop widths, and the console/CSP watch.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { projectRoot } from '../../lib/paths.js';
import { BOOKING_LEAD_MINUTES } from '../../lib/scheduling/slot-rules.js';
import { buildUser } from './factories.js';

export const WIDTHS = { phone: { width: 360, height: 780 }, desktop: { width: 1280, height: 900 } };
// SCREENSHOT_DIR puts them elsewhere (outside the checkout, say).
const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? path.join(projectRoot, 'test', 'output', 'screenshots');

/** A fresh context and page that collects console errors, page errors and CSP violations. */
export async function openPage(
  browser: Browser,
  options: { javaScript?: boolean; width?: keyof typeof WIDTHS } = {},
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({
    viewport: WIDTHS[options.width ?? 'desktop'],
    javaScriptEnabled: options.javaScript ?? true,
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  return { context, page, problems };
}

/** Signs a new patient up through the page; resolves once logged in. */
export async function signUp(page: Page, baseUrl: string, name = 'Anita Desai') {
  const user = buildUser({ name });
  await page.goto(`${baseUrl}/signup`);
  await page.getByLabel('Full name').fill(user.name);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${baseUrl}/`);
  return user;
}

/** No serious or critical axe-core violation on the page as it is now. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
    `axe on ${what}`,
  ).to.deep.equal([]);
}

/**
 * Checks the page with axe-core and saves a full-page screenshot at 360 px and 1280 px
 * (test/output/screenshots/<name>-<width>.png, or under SCREENSHOT_DIR); the viewport is put back afterwards. Pages in a
 * context without JavaScript cannot run axe (`axe: false`): the same markup is checked with it on.
 */
export async function checkAtBothWidths(page: Page, name: string, { axe = true } = {}): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const before = page.viewportSize();
  for (const [label, size] of Object.entries(WIDTHS)) {
    await page.setViewportSize(size);
    if (axe) await expectAccessible(page, `${name} at ${size.width} px`);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${label}.png`), fullPage: true });
  }
  if (before) await page.setViewportSize(before);
}

/** The problems a page logged, less the console's note of a 4xx page that the test asked for. */
export function unexpected(problems: string[], statuses: number[] = []): string[] {
  return problems.filter(
    (problem) =>
      !statuses.some((status) =>
        problem.startsWith(`Failed to load resource: the server responded with a status of ${status}`),
      ),
  );
}

/** Waits until the wizard's script has restored the saved progress (pages with JavaScript only). */
export async function wizardReady(page: Page): Promise<void> {
  await page.locator('#wizard[data-ready="true"]').waitFor();
}

/**
 * On a slot picker: chooses the shown day's first free time that starts ten minutes or more past the
 * booking lead time, else its last free time (by role: the day's group of radios, the enabled ones),
 * and answers its label ("09:15") and start. The first free time of today may stop being offered
 * between a step and the next (a reload, a step back) when the lead time passes it meanwhile.
 */
export async function pickFreeTime(page: Page): Promise<{ time: string; start: string }> {
  const day = page.getByRole('group', { name: /^Times on / });
  const radios = day.getByRole('radio', { disabled: false });
  await radios.first().waitFor();
  const starts = await radios.evaluateAll((inputs) =>
    inputs.map((input) => (input as unknown as { value: string }).value),
  );
  const safe = Date.now() + (BOOKING_LEAD_MINUTES + 10) * 60_000;
  const index = starts.findIndex((value) => Date.parse(value) >= safe);
  const radio = radios.nth(index >= 0 ? index : starts.length - 1);
  await radio.check();
  const start = (await radio.getAttribute('value')) ?? '';
  const time = await radio.evaluate((input) =>
    ((input as unknown as { labels: { innerText: string }[] | null }).labels?.[0]?.innerText ?? '').trim(),
  );
  return { time, start };
}
