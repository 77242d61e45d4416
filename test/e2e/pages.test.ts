import path from 'node:path';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { projectRoot } from '../../lib/paths.js';
import { launchBrowser, serve } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { buildUser, createService } from '../support/factories.js';

describe('pages in a real browser', function () {
  this.timeout(30_000);
  let testApp: TestApp;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    testApp = await startTestApp();
    server = await serve(testApp.app);
    browser = await launchBrowser();
  });

  beforeEach(async () => {
    problems.length = 0;
    page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    // A CSP violation or script error shows up as a console error.
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
    page.on('pageerror', (error) => problems.push(error.message));
  });

  afterEach(async () => {
    await page.close();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await testApp?.close();
  });

  it('shows the catalogue with prices in rupees, escaping what admins typed', async () => {
    await createService(testApp.db, { name: 'Scan <b>bold</b> & more', pricePaise: 12345600 });
    await page.goto(`${server.url}/`);
    const row = page.locator('tr', { hasText: 'Scan <b>bold</b> & more' });
    await expect(await row.count()).to.equal(1);
    expect(await row.locator('.num').innerText()).to.equal('₹1,23,456.00');
    expect(await page.locator('b', { hasText: 'bold' }).count()).to.equal(0);
    expect(problems).to.deep.equal([]);
  });

  it('signs a patient up, shows who is logged in, and logs out', async () => {
    const user = buildUser({ name: 'Kavya Rao' });
    await page.goto(`${server.url}/signup`);
    await page.getByLabel('Full name').fill(user.name);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${server.url}/`);
    expect(await page.locator('.who').textContent()).to.equal('Logged in as Kavya Rao');

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.locator('header').getByRole('link', { name: 'Log in' }).waitFor();
    expect(await page.locator('.who').count()).to.equal(0);
    expect(problems).to.deep.equal([]);
  });

  it('keeps the page within a 360 px phone for the longest name a patient may give', async () => {
    const user = buildUser({ name: 'Venkatanarasimharajuvaripeta'.repeat(4).slice(0, 100) });
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto(`${server.url}/signup`);
    await page.getByLabel('Full name').fill(user.name);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${server.url}/`);
    await page.getByText(user.name).waitFor();
    const width = await page.locator('html').evaluate((html) => html.scrollWidth);
    expect(width).to.be.at.most(360);
    await page.screenshot({
      path: path.join(projectRoot, 'test', 'output', 'screenshots', 'long-name-360.png'),
    });
  });

  it('re-renders the login form with a message on wrong credentials', async () => {
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Email').fill('nobody@example.com');
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Log in' }).click();
    const summary = page.getByRole('alert');
    await summary.waitFor();
    expect(await summary.innerText()).to.contain('Wrong email or password.');
    expect(await page.getByLabel('Email').inputValue()).to.equal('nobody@example.com');
  });
});
