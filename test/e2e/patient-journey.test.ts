import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.js';
import { launchBrowser, serve } from '../support/browser.js';
import { createService } from '../support/factories.js';
import type { Client } from '../support/http.js';
import { appointmentTime } from '../../server/views/helpers.js';
import {
  checkAtBothWidths,
  openPage,
  pickFreeTime,
  signUp,
  unexpected,
  wizardReady,
} from '../support/pages.js';
import {
  FLOWS,
  QUOTA_REACHED,
  SLOT_TAKEN,
  adminClient,
  changeConfig,
  ensureQuotaRoom,
  expectSteps,
  quotaToday,
  withSlot,
} from '../support/saga-helpers.js';
import { SagaSystem, workerNames } from '../support/system.js';

// The patient's whole journey against the real participants (the Procfile's worker processes).
describe('the patient journey in a real browser, with the saga running', function () {
  this.timeout(60_000);
  let system: SagaSystem;
  let web: TestApp;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let admin: Client;
  let consult: { id: string; name: string; pricePaise: number };
  let scan: { id: string; name: string; pricePaise: number };

  before(async function () {
    this.timeout(120_000);
    const [started, app] = await Promise.allSettled([
      SagaSystem.start({ processes: workerNames(), env: { PAYMENT_DELAY_MS: '100' } }),
      startTestApp({ relay: true }),
    ]);
    if (started.status === 'fulfilled') system = started.value;
    if (app.status === 'fulfilled') web = app.value;
    if (started.status === 'rejected') throw started.reason;
    if (app.status === 'rejected') throw app.reason;
    server = await serve(web.app);
    browser = await launchBrowser();
    admin = await adminClient(web.app, web.db);
    consult = await createService(web.db, { name: 'Journey Consultation', pricePaise: 60_000 });
    scan = await createService(web.db, { name: 'Journey Scan', pricePaise: 63_457 });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') system?.dump();
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    await server?.close();
    try {
      await web?.close();
    } finally {
      await system?.stop();
    }
  });

  /**
   * Fills the wizard for a male patient (no birthday discount) with these services and the first free
   * time; stops on Summary and answers the time chosen.
   */
  async function toSummary(page: Page, services: { name: string }[]) {
    await wizardReady(page);
    await page.getByLabel('Full name').fill('Vikram Singh');
    await page.getByLabel('Gender').selectOption({ label: 'Male' });
    await page.getByLabel('Date of birth').fill('1979-01-30');
    await page.getByLabel('Phone').fill('9876543210');
    await page.getByLabel('Email').fill('vikram@example.com');
    await page.getByRole('button', { name: 'Next' }).click();
    for (const service of services) await page.getByRole('checkbox', { name: service.name }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    const chosen = await pickFreeTime(page);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('.breakdown .total td').waitFor();
    return chosen;
  }

  /** Confirms and waits on the status page until the live status shows `word`. */
  async function confirmAndSettle(page: Page, word: string) {
    await page.getByRole('button', { name: 'Confirm booking' }).click();
    await page.waitForURL(/\/bookings\/[0-9a-f-]{36}$/);
    const status = page.getByRole('status');
    await status.filter({ hasText: word }).waitFor({ timeout: 20_000 });
    expect(await status.innerText()).to.equal(word);
  }

  const timelineTypes = (page: Page) =>
    page
      .locator('ol.timeline li')
      .evaluateAll((items) => items.map((item) => item.getAttribute('data-type')));

  it('books, watches the saga confirm it live with the right total, and finds it in history', async () => {
    const { context, page, problems } = await openPage(browser);
    await signUp(page, server.url);
    const chosen = await toSummary(page, [consult]);
    expect(await page.locator('.summary-body').innerText()).to.contain('No discount applies');
    await confirmAndSettle(page, 'Confirmed');
    expect(await page.locator('.facts').innerText()).to.contain(appointmentTime(chosen.start));
    const heading = await page.getByRole('heading', { level: 1 }).innerText();
    const reference = /MC-[0-9A-Z]{4}-[0-9A-Z]{4}/.exec(heading)?.[0];
    expect(reference, heading).to.be.a('string');
    await page
      .locator('ol.timeline li')
      .nth(withSlot(FLOWS.undiscounted).length - 1)
      .waitFor();
    expectSteps(await timelineTypes(page), withSlot(FLOWS.undiscounted));
    expect(await page.locator('ol.timeline li').first().locator('time').innerText()).to.match(
      /^\d{2}:\d{2}:\d{2} IST$/,
    );
    expect(await page.locator('.breakdown .total td').innerText()).to.equal('₹600.00');
    expect(await page.locator('.breakdown').innerText()).not.to.contain('Discount');
    await checkAtBothWidths(page, 'status-confirmed');

    await page.getByRole('link', { name: 'All my bookings' }).click();
    const row = page.getByRole('row', { name: new RegExp(reference!) });
    expect(await row.getByRole('link', { name: reference! }).getAttribute('href')).to.match(/^\/bookings\//);
    expect(await row.locator('.badge').innerText()).to.equal('Confirmed');
    expect(await row.innerText()).to.contain('₹600.00');
    expect(await row.innerText()).to.contain(appointmentTime(chosen.start));
    await checkAtBothWidths(page, 'history');
    expect(unexpected(problems)).to.deep.equal([]);
    await context.close();
  });

  it('expects the discount above ₹1,000 on Summary and confirms the discounted total', async () => {
    await ensureQuotaRoom(admin, web.db, 5);
    // The percent this test's numbers assume (an earlier suite of the run may have changed it).
    await changeConfig(admin, web.db, { discountPercent: 12 });
    const { context, page, problems } = await openPage(browser, { width: 'phone' });
    await signUp(page, server.url);
    await toSummary(page, [consult, scan]);
    expect(await page.locator('.summary-body').innerText()).to.contain('A discount of 12% is expected');
    expect(await page.locator('.breakdown .discount td').innerText()).to.equal('−₹148.15');
    await confirmAndSettle(page, 'Confirmed');
    await page
      .locator('ol.timeline li')
      .nth(withSlot(FLOWS.discounted).length - 1)
      .waitFor();
    expectSteps(await timelineTypes(page), withSlot(FLOWS.discounted));
    expect(await page.locator('.breakdown .discount th').innerText()).to.equal('Discount (12%)');
    expect(await page.locator('.breakdown .total td').innerText()).to.equal('₹1,086.42');
    expect(unexpected(problems)).to.deep.equal([]);
    await context.close();
  });

  it('shows the day’s quota on Summary when it is used up, then the rejection in the spec’s words', async () => {
    const { used, limit } = await quotaToday(admin);
    await changeConfig(admin, web.db, { dailyDiscountQuota: used });
    try {
      const { context, page, problems } = await openPage(browser);
      await signUp(page, server.url);
      await toSummary(page, [consult, scan]);
      const summary = await page.locator('.summary-body').innerText();
      expect(summary).to.contain(`(${used} of ${used} used)`);
      expect(summary).to.contain(QUOTA_REACHED);
      await checkAtBothWidths(page, 'wizard-summary-quota');
      await confirmAndSettle(page, 'Rejected');
      expect(await page.locator('.outcome .reason').innerText()).to.equal(QUOTA_REACHED);
      await page
        .locator('ol.timeline li')
        .nth(withSlot(FLOWS.quotaExhausted).length - 1)
        .waitFor();
      expectSteps(await timelineTypes(page), withSlot(FLOWS.quotaExhausted));
      await checkAtBothWidths(page, 'status-rejected');
      expect(unexpected(problems)).to.deep.equal([]);
      await context.close();
    } finally {
      await changeConfig(admin, web.db, { dailyDiscountQuota: limit });
    }
  });

  it('shows a failed payment’s compensation steps and Failed', async () => {
    await ensureQuotaRoom(admin, web.db, 5);
    await changeConfig(admin, web.db, { paymentSimulationMode: 'fail' });
    try {
      const { context, page, problems } = await openPage(browser);
      await signUp(page, server.url);
      await toSummary(page, [consult, scan]);
      await confirmAndSettle(page, 'Failed');
      await page
        .locator('ol.timeline li')
        .nth(withSlot(FLOWS.paymentFailedReleased).length - 1)
        .waitFor();
      expectSteps(await timelineTypes(page), withSlot(FLOWS.paymentFailedReleased));
      expect(await page.locator('.outcome .reason').innerText()).to.match(/^Payment failed: /);
      await checkAtBothWidths(page, 'status-failed');
      expect(unexpected(problems)).to.deep.equal([]);
      await context.close();
    } finally {
      await changeConfig(admin, web.db, { paymentSimulationMode: 'success' });
    }
  });

  it('books without JavaScript too, its status page (reloading itself while pending) ending Confirmed', async () => {
    const { context, page, problems } = await openPage(browser, { javaScript: false });
    await signUp(page, server.url);
    await page.getByLabel('Full name').fill('Vikram Singh');
    await page.getByLabel('Gender').selectOption({ label: 'Male' });
    await page.getByLabel('Date of birth').fill('1979-01-30');
    await page.getByLabel('Phone').fill('9876543210');
    await page.getByLabel('Email').fill('vikram@example.com');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('checkbox', { name: consult.name }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await pickFreeTime(page);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Confirm booking' }).click();
    await page.waitForURL(/\/bookings\/[0-9a-f-]{36}$/);
    await page.getByRole('status').filter({ hasText: 'Confirmed' }).waitFor({ timeout: 20_000 });
    expectSteps(await timelineTypes(page), withSlot(FLOWS.undiscounted));
    expect(unexpected(problems)).to.deep.equal([]);
    await context.close();
  });

  it('rejects a booking whose time filled up meanwhile, then books the same visit at another time', async () => {
    const { context, page, problems } = await openPage(browser);
    await signUp(page, server.url);
    const taken = await toSummary(page, [consult, scan]);
    // Other patients take the last places of that time before this one confirms.
    const at = new Date(taken.start);
    const { capacity } = await web.db
      .selectFrom('scheduling.schedule')
      .select('capacity')
      .executeTakeFirstOrThrow();
    await web.db
      .insertInto('scheduling.slots')
      .values({ start: at, held: capacity })
      .onConflict((oc) => oc.column('start').doUpdateSet({ held: capacity }))
      .execute();
    await confirmAndSettle(page, 'Rejected');
    expect(await page.locator('.outcome .reason').innerText()).to.equal(SLOT_TAKEN);
    expect(await timelineTypes(page)).to.deep.equal(['BookingRequested', 'SlotRejected', 'BookingRejected']);
    await checkAtBothWidths(page, 'status-slot-taken');

    await page.getByRole('link', { name: 'Choose another time' }).click();
    await page.waitForURL(`${server.url}/?step=time`);
    await wizardReady(page);
    const timeStep = page.getByRole('navigation', { name: 'Booking steps' }).getByRole('link', {
      name: 'Date & time',
      exact: true,
    });
    expect(await timeStep.getAttribute('aria-current')).to.equal('step');
    // The time taken shows full; another is chosen and the rest of the entries are as they were.
    await page
      .getByRole('link', {
        name: new RegExp(`^${appointmentTime(taken.start).split(' ').slice(0, 3).join(' ')} `),
      })
      .click();
    expect(await page.getByRole('radio', { name: `${taken.time} full` }).isDisabled()).to.equal(true);
    const other = await pickFreeTime(page);
    expect(other.start).not.to.equal(taken.start);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('.breakdown .total td').waitFor();
    const summary = await page.locator('.summary-body').innerText();
    expect(summary).to.contain('Vikram Singh');
    expect(summary).to.contain('vikram@example.com');
    expect(summary).to.contain(`${consult.name}, ${scan.name}`);
    expect(summary).to.contain(appointmentTime(other.start));
    await confirmAndSettle(page, 'Confirmed');
    expect(await page.locator('.facts').innerText()).to.contain(appointmentTime(other.start));
    expect(unexpected(problems)).to.deep.equal([]);
    await context.close();
  });
});
