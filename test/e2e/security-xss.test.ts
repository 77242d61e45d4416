import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { upsertAdmin } from '../../lib/identity/user-service.js';
import { projectRoot } from '../../lib/paths.js';
import { startApiApp, trackWrites } from '../support/api-helpers.js';
import type { TestApp } from '../support/app.js';
import { launchBrowser, serve } from '../support/browser.js';
import { buildPatient, buildUser, createService } from '../support/factories.js';
import { Client } from '../support/http.js';
import { routeTable } from '../support/routes.js';

// Each payload would leave an element with this class, run a script that sets window.__xss, or both.
const MARK = 'xss-marker';
const PAYLOADS = {
  serviceName: `<img src=x class="${MARK}" onerror="window.__xss=1">Ultrasound`,
  serviceDescription: `</td><script>window.__xss=1</script><b class="${MARK}">bold</b>`,
  userName: `<svg class="${MARK}" onload="window.__xss=1">Asha`,
  patientName: `"><b class="${MARK}">Meera</b><!--`,
  reason: `<i class="${MARK}">late</i>' onmouseover='window.__xss=1`,
  auditData: `<iframe class="${MARK}" srcdoc="<script>parent.__xss=1</script>">`,
};

const screenshots = path.join(projectRoot, 'test/output/screenshots');

describe('security: stored XSS on every page, in a real browser', function () {
  this.timeout(120_000);
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let bookingId: string;
  const patient = buildUser({ name: PAYLOADS.userName });
  const admin = { email: `xss-admin-${Date.now()}@example.com`, password: 'admin password 123' };

  before(async () => {
    mkdirSync(screenshots, { recursive: true });
    testApp = await startApiApp();
    cleanUp = await trackWrites(testApp.db);
    server = await serve(testApp.app);
    browser = await launchBrowser();
    await upsertAdmin(testApp.db, { ...admin, name: PAYLOADS.userName });
    const service = await createService(testApp.db, {
      name: PAYLOADS.serviceName,
      description: PAYLOADS.serviceDescription,
    });
    const client = new Client(testApp.app);
    await client.signup(patient);
    const booked = await client.post('/api/bookings', {
      patient: buildPatient({ name: PAYLOADS.patientName }),
      serviceIds: [service.id],
    });
    expect(booked.status, booked.text).to.equal(202);
    bookingId = (booked.body as { booking: { id: string } }).booking.id;
    await testApp.db
      .updateTable('booking.bookings')
      .set({ status: 'FAILED', reason: PAYLOADS.reason })
      .where('id', '=', bookingId)
      .execute();
    await testApp.db
      .insertInto('audit.entries')
      .values({
        at: new Date(),
        type: 'AdminServiceUpdated',
        actor: PAYLOADS.userName,
        booking_id: bookingId,
        correlation_id: null,
        event_id: null,
        data: JSON.stringify({ before: { name: PAYLOADS.auditData }, after: { name: PAYLOADS.serviceName } }),
      })
      .execute();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await cleanUp?.();
    await testApp?.close();
  });

  /** Every page of the route table, its ids filled with the hostile booking's. */
  const pagePaths = () =>
    routeTable(testApp.app)
      .filter((route) => route.startsWith('GET '))
      .map((route) => route.slice(4))
      .filter((route) => !/^\/(api|healthz|readyz|metrics)\b/.test(route))
      .map((route) => route.replace(/:\w+/g, bookingId));

  async function loggedIn(credentials: { email: string; password: string }): Promise<BrowserContext> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Email').fill(credentials.email);
    await page.getByLabel('Password').fill(credentials.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${server.url}/`);
    await page.close();
    return context;
  }

  async function visit(context: BrowserContext, who: string, pagePath: string) {
    const page: Page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('dialog', (dialog) => {
      problems.push(`a dialog opened: ${dialog.message()}`);
      void dialog.dismiss();
    });
    try {
      const res = await page.goto(`${server.url}${pagePath}`);
      await page.waitForLoadState('networkidle');
      const found = {
        markers: await page.locator(`.${MARK}, [onerror], [onload], [onmouseover], iframe[srcdoc]`).count(),
        ran: await page.evaluate('window.__xss ?? null'),
      };
      expect(found, `${who} ${pagePath}`).to.deep.equal({ markers: 0, ran: null });
      // The text is shown as text: the name the admin or patient typed is readable as typed.
      if ((res?.status() ?? 0) < 400 && pagePath !== '/login' && pagePath !== '/signup')
        expect(await page.locator('body').innerText(), `${who} ${pagePath}`).to.include('Asha');
      const axe = await new AxeBuilder({ page }).analyze();
      const serious = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      expect(
        serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
        `${who} ${pagePath}`,
      ).to.deep.equal([]);
      const name = `security-${who}-${pagePath.replace(/[^\w]+/g, '_') || 'home'}`;
      for (const width of [360, 1280]) {
        await page.setViewportSize({ width, height: 900 });
        await page.screenshot({ path: path.join(screenshots, `${name}-${width}.png`), fullPage: true });
      }
      // A page refused to this visitor (403, 404) logs its own status; any other console error counts.
      const status = res?.status() ?? 0;
      const own = `the server responded with a status of ${status}`;
      expect(
        problems.filter((problem) => status < 400 || !problem.includes(own)),
        `${who} ${pagePath}`,
      ).to.deep.equal([]);
    } finally {
      await page.close();
    }
  }

  it('renders hostile names, descriptions and reasons as text on every page, for the patient', async () => {
    const context = await loggedIn(patient);
    try {
      for (const pagePath of pagePaths()) await visit(context, 'patient', pagePath);
    } finally {
      await context.close();
    }
  });

  it('and for the admin', async () => {
    const context = await loggedIn(admin);
    try {
      for (const pagePath of pagePaths()) await visit(context, 'admin', pagePath);
    } finally {
      await context.close();
    }
  });

  it('and for an anonymous visitor', async () => {
    const context = await browser.newContext();
    try {
      for (const pagePath of pagePaths()) {
        const page = await context.newPage();
        await page.goto(`${server.url}${pagePath}`);
        const markers = await page.locator(`.${MARK}`).count();
        expect(markers, pagePath).to.equal(0);
        await page.close();
      }
    } finally {
      await context.close();
    }
  });
});
