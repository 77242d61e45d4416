import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { bookingHandlers } from '../../lib/booking/booking-handlers.js';
import { createUser } from '../../lib/identity/user-service.js';
import { projectRoot } from '../../lib/paths.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { launchBrowser, serve } from '../support/browser.js';
import { confirmedBooking, type PaidBooking } from '../support/confirmed-booking.js';
import { buildPatient, buildUser, createService } from '../support/factories.js';
import { handle, sagaEvent } from '../support/handlers.js';

const screenshots = path.join(projectRoot, 'test/output/screenshots');

describe('the receipt page in a real browser', function () {
  this.timeout(60_000);
  let testApp: TestApp;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let booking: PaidBooking;
  let number: string;
  const user = buildUser();
  const problems: string[] = [];

  before(async () => {
    mkdirSync(screenshots, { recursive: true });
    testApp = await startTestApp({
      env: { CLINIC_NAME: 'Sunrise Clinic', CLINIC_ADDRESS: '4 Park Street, Kolkata 700016, West Bengal' },
    });
    server = await serve(testApp.app);
    browser = await launchBrowser();
    const account = await createUser(testApp.db, user);
    const handlers = bookingHandlers({ afterMs: 60_000, limit: 1 });
    booking = await confirmedBooking(testApp.db, handlers, {
      userId: account.id,
      services: [
        await createService(testApp.db, { name: 'General physician consultation', pricePaise: 80_000 }),
        await createService(testApp.db, { name: 'Complete blood count (CBC)', pricePaise: 45_050 }),
      ],
      patient: buildPatient({ name: 'Asha Verma' }),
      discountBasisPoints: 1200,
    });
    await handle(testApp.db, handlers, {
      ...sagaEvent(
        'PaymentRefunded',
        {
          amountPaise: booking.finalPaise,
          gatewayReference: 'rfnd_sim_5f2c9a0e7d41b388',
          reason: 'Cancelled',
        },
        booking.id,
      ),
      correlationId: booking.correlationId,
    });
    number = (
      await testApp.db
        .selectFrom('booking.receipts')
        .select('number')
        .where('booking_id', '=', booking.id)
        .executeTakeFirstOrThrow()
    ).number;
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await testApp?.close();
  });

  async function loggedInPage(width: number): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${server.url}/bookings/${booking.id}/receipt`);
    // Anonymous: sent to log in, then back to the receipt.
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${server.url}/bookings/${booking.id}/receipt`);
    return page;
  }

  for (const width of [360, 1280]) {
    it(`shows the Bill of Supply with its refund, accessible, at ${width} px`, async () => {
      problems.length = 0;
      const page = await loggedInPage(width);
      try {
        await expect(await page.getByRole('heading', { level: 1 }).innerText()).to.equal('Bill of Supply');
        const facts = page.locator('dl.receipt-facts');
        expect(await facts.innerText())
          .to.contain(number)
          .and.to.contain(booking.reference);
        const total = page.getByRole('row', { name: /Total paid/ });
        expect(await total.innerText()).to.contain('₹1,100.44');
        expect(await page.getByRole('heading', { name: 'Refund' }).isVisible()).to.equal(true);
        expect(await page.getByRole('button', { name: 'Print' }).isVisible()).to.equal(true);
        const pdfLink = page.getByRole('link', { name: 'Download the receipt (PDF)' });
        expect(await pdfLink.getAttribute('href')).to.equal(`/bookings/${booking.id}/receipt.pdf`);

        const axe = await new AxeBuilder({ page }).analyze();
        const serious = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        expect(serious.map((v) => `${v.id}: ${v.help}`)).to.deep.equal([]);
        await page.screenshot({ path: path.join(screenshots, `receipt-${width}.png`), fullPage: true });
        expect(problems).to.deep.equal([]);
      } finally {
        await page.context().close();
      }
    });
  }

  it('prints without the site header and the actions', async () => {
    const page = await loggedInPage(1280);
    try {
      await page.emulateMedia({ media: 'print' });
      expect(await page.locator('.site-header').isVisible()).to.equal(false);
      expect(await page.getByRole('button', { name: 'Print' }).isVisible()).to.equal(false);
      expect(await page.getByRole('heading', { name: 'Bill of Supply' }).isVisible()).to.equal(true);
    } finally {
      await page.context().close();
    }
  });
});
