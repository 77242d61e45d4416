import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
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
    await page.fill('input[name=name]', user.name);
    await page.fill('input[name=email]', user.email);
    await page.fill('input[name=password]', user.password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${server.url}/`);
    expect(await page.locator('.who').innerText()).to.equal('Kavya Rao');

    await page.click('text=Log out');
    await page.waitForSelector('a[href="/login"]');
    expect(await page.locator('.who').count()).to.equal(0);
    expect(problems).to.deep.equal([]);
  });

  it('re-renders the login form with a message on wrong credentials', async () => {
    await page.goto(`${server.url}/login`);
    await page.fill('input[name=email]', 'nobody@example.com');
    await page.fill('input[name=password]', 'wrong password');
    await page.click('button[type=submit]');
    await page.waitForSelector('.errors');
    expect(await page.locator('.errors').innerText()).to.contain('Wrong email or password.');
    expect(await page.inputValue('input[name=email]')).to.equal('nobody@example.com');
  });
});
