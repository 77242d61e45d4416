import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { upsertAdmin } from '../../lib/identity/user-service.js';
import { discountPaise, formatInr } from '../../lib/money.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { launchBrowser, serve } from '../support/browser.js';
import { createService } from '../support/factories.js';
import { appointmentTime } from '../../server/views/helpers.js';
import {
  checkAtBothWidths,
  openPage,
  pickFreeTime,
  signUp,
  unexpected,
  wizardReady,
} from '../support/pages.js';

// The wizard alone (no saga workers): bookings stay Pending, which is all these tests need.
describe('the booking wizard in a real browser', function () {
  this.timeout(60_000);
  let testApp: TestApp;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let consult: { id: string; name: string; pricePaise: number };
  let scan: { id: string; name: string; pricePaise: number };
  let mammography: { id: string; name: string; pricePaise: number };
  let percent: number;
  /** Consultation and scan (₹1,234.57) less the applied discount. */
  let discountedTotal: string;

  before(async () => {
    testApp = await startTestApp();
    server = await serve(testApp.app);
    browser = await launchBrowser();
    // Earlier suites of a run may leave another percent applied: the numbers below follow it.
    const { discount_basis_points: basisPoints } = await testApp.db
      .selectFrom('pricing.settings')
      .select('discount_basis_points')
      .executeTakeFirstOrThrow();
    percent = basisPoints / 100;
    discountedTotal = formatInr(123_457 - discountPaise(123_457, basisPoints));
    consult = await createService(testApp.db, { name: 'Wizard Consultation', pricePaise: 60_000 });
    scan = await createService(testApp.db, { name: 'Wizard Scan', pricePaise: 63_457 });
    mammography = await createService(testApp.db, {
      name: 'Wizard Mammography',
      pricePaise: 250_000,
      gender: 'female',
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await testApp?.close();
  });

  const PATIENT = {
    name: 'Lakshmi Menon',
    dateOfBirth: '1990-07-14',
    phone: '+91 98450 12345',
    email: 'lakshmi@example.com',
  };

  async function fillPatient(page: Page, gender = 'Female') {
    await page.getByLabel('Full name').fill(PATIENT.name);
    await page.getByLabel('Gender').selectOption({ label: gender });
    await page.getByLabel('Date of birth').fill(PATIENT.dateOfBirth);
    await page.getByLabel('Phone').fill(PATIENT.phone);
    await page.getByLabel('Email').fill(PATIENT.email);
  }

  const stepNav = (page: Page) => page.getByRole('navigation', { name: 'Booking steps' });
  const currentStep = (page: Page) => stepNav(page).locator('[aria-current="step"]').innerText();
  const heading = (page: Page) => page.getByRole('heading', { level: 1 }).innerText();
  /** The wizard's keys in the page's localStorage (evaluated in the browser). */
  const saved = (page: Page): Promise<string[]> =>
    page.evaluate(
      'Object.keys(window.localStorage).filter((key) => key.startsWith("clinic.wizard."))',
    ) as Promise<string[]>;

  async function bookingsOf(email: string) {
    return testApp.db
      .selectFrom('booking.bookings')
      .innerJoin('identity.users', 'identity.users.id', 'booking.bookings.user_id')
      .select([
        'booking.bookings.id',
        'booking.bookings.patient_name',
        'booking.bookings.patient_date_of_birth',
        'booking.bookings.idempotency_key',
        'booking.bookings.slot_start',
      ])
      .where('identity.users.email', '=', email.toLowerCase())
      .execute();
  }

  describe('with JavaScript', () => {
    it('keeps every entry stepping back and forth and after a refresh on each step', async () => {
      const { context, page, problems } = await openPage(browser, { width: 'phone' });
      await signUp(page, server.url);
      await wizardReady(page);
      await page.goto(`${server.url}/`);
      await wizardReady(page);
      expect(await currentStep(page)).to.contain('Patient info');
      await checkAtBothWidths(page, 'wizard-patient');
      await fillPatient(page);
      await page.reload();
      await wizardReady(page);
      expect(await page.getByLabel('Full name').inputValue()).to.equal(PATIENT.name);
      expect(await page.getByLabel('Gender').inputValue()).to.equal('female');
      expect(await page.getByLabel('Date of birth').inputValue()).to.equal(PATIENT.dateOfBirth);

      await page.getByRole('button', { name: 'Next' }).click();
      expect(await currentStep(page)).to.contain('Services');
      await page.getByRole('checkbox', { name: consult.name }).check();
      await page.getByRole('checkbox', { name: scan.name }).check();
      expect(await page.locator('[aria-live]', { hasText: 'Total' }).innerText()).to.contain('₹1,234.57');
      await checkAtBothWidths(page, 'wizard-services');
      await page.reload();
      await wizardReady(page);
      expect(await currentStep(page)).to.contain('Services');
      expect(await page.getByRole('checkbox', { name: scan.name }).isChecked()).to.equal(true);
      expect(await page.locator('[aria-live]', { hasText: 'Total' }).innerText()).to.contain('₹1,234.57');

      await page.getByRole('button', { name: 'Next' }).click();
      // The page contract's name, exactly (the step's number is hidden from assistive technology).
      const timeStep = stepNav(page).getByRole('link', { name: 'Date & time', exact: true });
      expect(await timeStep.getAttribute('aria-current')).to.equal('step');
      expect(await heading(page)).to.equal('Choose a date and time');
      await checkAtBothWidths(page, 'wizard-time');
      const chosen = await pickFreeTime(page);
      expect(chosen.time).to.match(/^\d{2}:\d{2}$/);
      await page.reload();
      await wizardReady(page);
      expect(await currentStep(page)).to.contain('Date & time');
      expect(await page.getByRole('radio', { name: chosen.time, exact: true }).isChecked()).to.equal(true);

      await page.getByRole('button', { name: 'Next' }).click();
      expect(await currentStep(page)).to.contain('Summary');
      const total = page.locator('.breakdown .total td');
      await total.waitFor();
      expect(await total.innerText()).to.equal(discountedTotal);
      expect(await page.locator('.breakdown').innerText()).to.contain(`Expected discount (${percent}%)`);
      await checkAtBothWidths(page, 'wizard-summary');
      await page.reload();
      await wizardReady(page);
      expect(await currentStep(page)).to.contain('Summary');
      expect(await page.locator('.breakdown .total td').innerText()).to.equal(discountedTotal);
      const appointment = page.getByRole('definition').filter({ hasText: appointmentTime(chosen.start) });
      expect(await appointment.count()).to.equal(1);

      // Back through the step navigation and the Back buttons: nothing is lost.
      await stepNav(page).getByRole('link', { name: 'Patient info' }).click();
      expect(await heading(page)).to.equal('Who is the visit for?');
      expect(await page.getByLabel('Phone').inputValue()).to.equal(PATIENT.phone);
      await stepNav(page).getByRole('link', { name: 'Summary' }).click();
      await page.locator('.breakdown .total td').waitFor();
      await page.getByRole('link', { name: 'Change appointment' }).click();
      expect(await currentStep(page)).to.contain('Date & time');
      expect(await page.getByRole('radio', { name: chosen.time, exact: true }).isChecked()).to.equal(true);
      await stepNav(page).getByRole('link', { name: 'Summary' }).click();
      await page.locator('.breakdown .total td').waitFor();
      await page.getByRole('link', { name: 'Back' }).click();
      expect(await currentStep(page)).to.contain('Date & time');
      await page.getByRole('button', { name: 'Back' }).click();
      expect(await page.getByRole('checkbox', { name: consult.name }).isChecked()).to.equal(true);
      await page.getByRole('button', { name: 'Back' }).click();
      expect(await page.getByLabel('Email').inputValue()).to.equal(PATIENT.email);

      // A new tab of the same browser resumes at the same step with the same entries.
      const second = await context.newPage();
      await second.goto(`${server.url}/`);
      await wizardReady(second);
      expect(await currentStep(second)).to.contain('Patient info');
      expect(await second.getByLabel('Full name').inputValue()).to.equal(PATIENT.name);
      expect(unexpected(problems)).to.deep.equal([]);
      await context.close();
    });

    it('does not skip past a step that is not complete: its errors show by the fields', async () => {
      const { context, page, problems } = await openPage(browser);
      await signUp(page, server.url);
      await wizardReady(page);
      await page.getByLabel('Full name').fill('Arjun Rao');
      await stepNav(page).getByRole('link', { name: 'Summary' }).click();
      expect(await currentStep(page)).to.contain('Patient info');
      const summary = page.getByRole('alert');
      expect(await summary.innerText()).to.contain('Gender: choose Female, Male or Other');
      expect(await summary.innerText()).not.to.contain('Full name');
      expect(await page.getByLabel('Phone').getAttribute('aria-invalid')).to.equal('true');
      await checkAtBothWidths(page, 'wizard-patient-errors');
      await page.getByLabel('Phone').fill('12');
      await page.getByRole('button', { name: 'Next' }).click();
      expect(await page.locator('#patient-phone-error').innerText()).to.contain('10 to 15 digits');

      await fillPatient(page, 'Male');
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByRole('button', { name: 'Next' }).click();
      expect(await currentStep(page)).to.contain('Services');
      expect(await page.getByRole('alert').innerText()).to.contain('Services: choose at least one service');
      await page.getByRole('checkbox', { name: consult.name }).check();
      await page.getByRole('button', { name: 'Next' }).click();
      await stepNav(page).getByRole('link', { name: 'Summary' }).click();
      expect(await currentStep(page)).to.contain('Date & time');
      expect(await page.getByRole('alert').innerText()).to.contain(
        'Date & time: choose a free time for the visit',
      );
      await checkAtBothWidths(page, 'wizard-time-errors');
      await pickFreeTime(page);
      await page.getByRole('button', { name: 'Next' }).click();
      expect(await currentStep(page)).to.contain('Summary');
      expect(unexpected(problems)).to.deep.equal([]);
      await context.close();
    });

    it('offers only the services that fit the gender and takes off those that no longer fit', async () => {
      const { context, page, problems } = await openPage(browser);
      await signUp(page, server.url);
      await wizardReady(page);
      await fillPatient(page, 'Male');
      await page.getByRole('button', { name: 'Next' }).click();
      expect(await page.getByRole('checkbox', { name: mammography.name }).count()).to.equal(0);
      await page.getByRole('button', { name: 'Back' }).click();
      await page.getByLabel('Gender').selectOption({ label: 'Female' });
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByRole('checkbox', { name: mammography.name }).check();
      await page.getByRole('checkbox', { name: consult.name }).check();
      expect(await page.locator('[aria-live]', { hasText: 'Total' }).innerText()).to.contain('₹3,100.00');

      await stepNav(page).getByRole('link', { name: 'Patient info' }).click();
      await page.getByLabel('Gender').selectOption({ label: 'Other' });
      await page.getByRole('button', { name: 'Next' }).click();
      expect(await page.getByRole('checkbox', { name: mammography.name }).count()).to.equal(0);
      expect(await page.locator('.removed-note').innerText()).to.contain(mammography.name);
      expect(await page.getByRole('checkbox', { name: consult.name }).isChecked()).to.equal(true);
      expect(await page.locator('[aria-live]', { hasText: 'Total' }).innerText()).to.contain('₹600.00');
      await page.getByRole('button', { name: 'Next' }).click();
      await pickFreeTime(page);
      await page.getByRole('button', { name: 'Next' }).click();
      await page.locator('.breakdown .total td').waitFor();
      expect(await page.locator('.breakdown').innerText()).not.to.contain(mammography.name);
      expect(await page.locator('.summary-body').innerText()).to.contain('No discount applies');
      expect(unexpected(problems)).to.deep.equal([]);
      await context.close();
    });

    it('makes one booking on a double click, goes to its status page and forgets the progress', async () => {
      const { context, page, problems } = await openPage(browser);
      const user = await signUp(page, server.url);
      await wizardReady(page);
      await fillPatient(page);
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByRole('checkbox', { name: consult.name }).check();
      await page.getByRole('button', { name: 'Next' }).click();
      const chosen = await pickFreeTime(page);
      await page.getByRole('button', { name: 'Next' }).click();
      await page.locator('.breakdown .total td').waitFor();
      expect(await saved(page)).to.have.length(1);

      const posts: string[] = [];
      page.on('request', (request) => {
        if (request.method() === 'POST' && request.url().endsWith('/api/bookings'))
          posts.push(request.headers()['idempotency-key'] ?? '');
      });
      await page.getByRole('button', { name: 'Confirm booking' }).dblclick();
      await page.waitForURL(/\/bookings\/[0-9a-f-]{36}$/);
      const bookings = await bookingsOf(user.email);
      expect(bookings).to.have.length(1);
      expect(bookings[0]!.patient_name).to.equal(PATIENT.name);
      expect(posts.length).to.be.at.least(1);
      expect(new Set(posts).size).to.equal(1);
      expect(bookings[0]!.idempotency_key).to.equal(posts[0]);
      expect(page.url()).to.equal(`${server.url}/bookings/${bookings[0]!.id}`);
      expect(await page.getByRole('status').innerText()).to.equal('Pending');
      expect(bookings[0]!.slot_start?.toISOString()).to.equal(new Date(chosen.start).toISOString());
      expect(await page.locator('.facts').innerText()).to.contain(
        `Appointment\n${appointmentTime(chosen.start)}`,
      );
      expect(await saved(page)).to.deep.equal([]);

      await page.goto(`${server.url}/`);
      await wizardReady(page);
      expect(await currentStep(page)).to.contain('Patient info');
      expect(await page.getByLabel('Full name').inputValue()).to.equal('');
      expect(unexpected(problems)).to.deep.equal([]);
      await context.close();
    });

    it('keeps the progress across the other pages and forgets it on log out', async () => {
      const { context, page, problems } = await openPage(browser);
      await signUp(page, server.url);
      await wizardReady(page);
      await fillPatient(page);
      expect(await saved(page)).to.have.length(1);
      await page.getByRole('link', { name: 'My bookings' }).click();
      expect(await page.locator('main').innerText()).to.contain('You have no bookings yet.');
      await checkAtBothWidths(page, 'history-empty');
      await page.getByRole('link', { name: 'Book a visit' }).last().click();
      await wizardReady(page);
      expect(await page.getByLabel('Full name').inputValue()).to.equal(PATIENT.name);
      await page.goto(`${server.url}/bookings/not-a-booking`);
      expect(await page.getByRole('heading', { level: 1 }).innerText()).to.equal('Page not found');
      await checkAtBothWidths(page, 'not-found');
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL(`${server.url}/`);
      expect(await saved(page)).to.deep.equal([]);
      expect(unexpected(problems, [404])).to.deep.equal([]);
      await context.close();
    });

    it('sends an anonymous patient to log in (or sign up) and back to the wizard', async () => {
      const { context, page, problems } = await openPage(browser);
      await page.goto(`${server.url}/`);
      expect(await page.getByRole('navigation', { name: 'Booking steps' }).count()).to.equal(0);
      await checkAtBothWidths(page, 'home');
      await page.getByRole('link', { name: 'Start booking' }).click();
      await page.waitForURL(/\/login\?next=/);
      await checkAtBothWidths(page, 'login');
      await page.locator('main').getByRole('link', { name: 'Create an account' }).click();
      await page.waitForURL(/\/signup\?next=/);
      await checkAtBothWidths(page, 'signup');
      await page.getByLabel('Full name').fill('Farah Khan');
      await page.getByLabel('Email').fill(`farah-${Date.now()}@example.com`);
      await page.getByLabel('Password').fill('short');
      await page.getByRole('button', { name: 'Create account' }).click();
      expect(await page.locator('#password-error').innerText()).to.contain('at least 10 characters');
      expect(await page.getByLabel('Full name').inputValue()).to.equal('Farah Khan');
      await checkAtBothWidths(page, 'signup-errors');
      await page.getByLabel('Password').fill('a long enough password');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(`${server.url}/?step=patient`);
      expect(await currentStep(page)).to.contain('Patient info');
      expect(unexpected(problems, [400])).to.deep.equal([]);
      await context.close();
    });

    it('books with the keyboard alone, the focus always visible', async () => {
      const { context, page, problems } = await openPage(browser, { width: 'phone' });
      const user = await signUp(page, server.url);
      await wizardReady(page);
      /** Tabs until the focus is on the control with this accessible name; asserts its focus shows. */
      async function tabTo(name: string, key = 'Tab') {
        for (let presses = 0; presses < 40; presses++) {
          await page.keyboard.press(key);
          const focused = await page.evaluate(`(() => {
            const el = document.activeElement;
            const label = el.labels && el.labels[0] ? el.labels[0].innerText : el.innerText;
            const style = getComputedStyle(el);
            return { label: (label || '').trim(), outline: style.outlineStyle, width: style.outlineWidth };
          })()`);
          const { label, outline, width } = focused as { label: string; outline: string; width: string };
          if (label === name) {
            expect(outline, `focus ring on ${name}`).to.not.equal('none');
            expect(width, `focus ring on ${name}`).to.not.equal('0px');
            return;
          }
        }
        throw new Error(`no control named ${name} within 40 tabs`);
      }
      /** Tabs until the focus is on a time of the slot picker; answers its value. */
      async function tabToRadio(): Promise<string> {
        for (let presses = 0; presses < 40; presses++) {
          await page.keyboard.press('Tab');
          const value = (await page.evaluate(
            `document.activeElement.type === 'radio' ? document.activeElement.value : ''`,
          )) as string;
          if (value) return value;
        }
        throw new Error('no time within 40 tabs');
      }
      await tabTo('Full name');
      await page.keyboard.type(PATIENT.name);
      await tabTo('Gender');
      await page.keyboard.press('ArrowDown');
      await tabTo('Date of birth');
      // The browser's date field reads typed digits in its locale's order (en-US: month, day, year).
      await page.keyboard.type('07141990');
      await tabTo('Phone');
      await page.keyboard.type(PATIENT.phone);
      await tabTo('Email');
      await page.keyboard.type(PATIENT.email);
      await tabTo('Next');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Choose services' }).waitFor();
      await tabTo(consult.name);
      await page.keyboard.press('Space');
      await tabTo('Next');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Choose a date and time' }).waitFor();
      // A time of the day shown first, chosen, then another day's: the chosen day's link names the
      // time, and the other day's times are reached by Tab all the same.
      const firstChoice = await tabToRadio();
      await page.keyboard.press('Space');
      const days = page.getByRole('list', { name: 'Days' }).getByRole('link');
      const shown = page.getByRole('list', { name: 'Days' }).locator('a[aria-current="true"]');
      expect(await shown.locator('.slot-days__chosen').innerText()).to.equal(
        `${firstChoice.slice(11, 16)} chosen`,
      );
      // The next day after the one shown that has free times (a Sunday, the day after a Saturday, is closed).
      const labels = (await days.allInnerTexts()).map((text) => text.trim());
      const other = labels.findIndex((label, at) => at > 0 && /\d+ free times?/.test(label));
      expect(other, `a later day with free times among ${labels.join(' | ')}`).to.be.above(0);
      const second = labels[other]!;
      await tabTo(second, 'Shift+Tab');
      await page.keyboard.press('Enter');
      const focused = `document.activeElement.matches('fieldset.slot-times:not([hidden])')`;
      expect(await page.evaluate(focused), 'focus on the day’s times').to.equal(true);
      expect(await page.getByRole('group', { name: /^Times on / }).getAttribute('data-day')).to.equal(
        await days.nth(other).getAttribute('data-day'),
      );
      // Into the day's times: Tab stops on the group, the arrows move between its times.
      const radio = await tabToRadio();
      expect(radio.slice(0, 10)).to.equal(await days.nth(other).getAttribute('data-day'));
      await page.keyboard.press('Space');
      expect(await page.locator(`input[type="radio"][value="${radio}"]`).isChecked()).to.equal(true);
      expect(await days.nth(other).locator('.slot-days__chosen').innerText()).to.equal(
        `${radio.slice(11, 16)} chosen`,
      );
      await tabTo('Next');
      await page.keyboard.press('Enter');
      await page.locator('.breakdown .total td').waitFor();
      await tabTo('Confirm booking');
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/bookings\/[0-9a-f-]{36}$/);
      const [booking] = await bookingsOf(user.email);
      expect(booking?.patient_name).to.equal(PATIENT.name);
      expect(booking?.patient_date_of_birth).to.equal(PATIENT.dateOfBirth);
      expect(booking?.slot_start?.toISOString()).to.equal(new Date(radio).toISOString());
      expect(unexpected(problems)).to.deep.equal([]);
      await context.close();
    });

    it('tells an admin that admins cannot book', async () => {
      const credentials = {
        email: 'wizard-admin@example.com',
        password: 'admin password 123',
        name: 'Admin',
      };
      await upsertAdmin(testApp.db, credentials);
      const { context, page, problems } = await openPage(browser);
      await page.goto(`${server.url}/login?next=%2F%3Fstep%3Dpatient`);
      await page.getByLabel('Email').fill(credentials.email);
      await page.getByLabel('Password').fill(credentials.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL(`${server.url}/?step=patient`);
      expect(await page.locator('main').innerText()).to.contain('Admins cannot book');
      expect(await page.getByRole('button', { name: 'Confirm booking' }).count()).to.equal(0);
      await checkAtBothWidths(page, 'wizard-admin');
      expect(unexpected(problems, [403])).to.deep.equal([]);
      await context.close();
    });
  });

  describe('a full time', () => {
    /** Fills a slot of the first listed free day to its capacity (as other patients' places would). */
    async function fillSlot(page: Page): Promise<{ time: string; start: string }> {
      const day = page.getByRole('group', { name: /^Times on / });
      const radio = day.getByRole('radio', { disabled: false }).nth(2);
      const start = (await radio.getAttribute('value'))!;
      const time = start.slice(11, 16);
      const { capacity } = await testApp.db
        .selectFrom('scheduling.schedule')
        .select('capacity')
        .executeTakeFirstOrThrow();
      await testApp.db
        .insertInto('scheduling.slots')
        .values({ start: new Date(start), held: capacity })
        .onConflict((oc) => oc.column('start').doUpdateSet({ held: capacity }))
        .execute();
      return { time, start };
    }

    afterEach(async () => {
      await testApp.db.deleteFrom('scheduling.slots').execute();
    });

    for (const javaScript of [true, false]) {
      it(`is shown but cannot be picked (${javaScript ? 'with' : 'without'} JavaScript)`, async () => {
        const { context, page, problems } = await openPage(browser, { javaScript });
        await signUp(page, server.url);
        if (javaScript) await wizardReady(page);
        await fillPatient(page, 'Male');
        await page.getByRole('button', { name: 'Next' }).click();
        await page.getByRole('checkbox', { name: consult.name }).check();
        await page.getByRole('button', { name: 'Next' }).click();
        const full = await fillSlot(page);
        await page.reload();
        if (javaScript) await wizardReady(page);
        const radio = page.getByRole('radio', { name: `${full.time} full` });
        expect(await radio.isDisabled()).to.equal(true);
        expect(await radio.getAttribute('value')).to.equal(full.start);
        if (javaScript) await checkAtBothWidths(page, 'wizard-time-full');
        // Posted anyway (a stale page, a crafted form): the step refuses it, beside the picker.
        const res = await page.request.post(`${server.url}/wizard`, {
          form: {
            _csrf: (await page.locator('input[name="_csrf"]').first().getAttribute('value'))!,
            step: 'time',
            action: 'next',
            slotStart: full.start,
          },
          maxRedirects: 0,
        });
        expect(res.status()).to.equal(400);
        expect(await res.text()).to.contain('Date &amp; time: the time you chose is full');
        expect(unexpected(problems)).to.deep.equal([]);
        await context.close();
      });
    }
  });

  describe('without JavaScript', () => {
    it('books through plain forms posted step by step', async () => {
      const { context, page, problems } = await openPage(browser, { javaScript: false });
      const user = await signUp(page, server.url);
      await page.getByRole('button', { name: 'Next' }).click();
      expect(await page.getByRole('alert').innerText()).to.contain('Full name');
      await checkAtBothWidths(page, 'wizard-nojs-errors', { axe: false });
      await fillPatient(page, 'Female');
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByRole('checkbox', { name: mammography.name }).check();
      await page.getByRole('button', { name: 'Back' }).click();
      await page.getByLabel('Gender').selectOption({ label: 'Male' });
      await page.getByRole('button', { name: 'Next' }).click();
      expect(await page.locator('.removed-note').innerText()).to.contain(mammography.name);
      await page.getByRole('checkbox', { name: consult.name }).check();
      await page.getByRole('checkbox', { name: scan.name }).check();
      await page.getByRole('button', { name: 'Next' }).click();
      expect(await currentStep(page)).to.contain('Date & time');
      await page.getByRole('button', { name: 'Next' }).click();
      expect(await page.getByRole('alert').innerText()).to.contain('Date & time: choose a free time');
      // A day is a link that loads the page with that day's times.
      const days = page.getByRole('list', { name: 'Days' }).getByRole('link', { name: /\d+ free times?/ });
      const day = days.nth(1);
      const dayDate = await day.getAttribute('data-day');
      await day.click();
      await page.waitForURL(new RegExp(`day=${dayDate}`));
      expect(await page.getByRole('group', { name: /^Times on / }).count()).to.equal(1);
      await checkAtBothWidths(page, 'wizard-nojs-time', { axe: false });
      const chosen = await pickFreeTime(page);
      expect(chosen.start.slice(0, 10)).to.equal(dayDate);
      await page.getByRole('button', { name: 'Next' }).click();
      expect(await page.locator('.summary-body').innerText()).to.contain(appointmentTime(chosen.start));
      await checkAtBothWidths(page, 'wizard-nojs-summary', { axe: false });
      expect(await page.locator('.breakdown .total td').innerText()).to.equal(discountedTotal);
      await page.getByRole('button', { name: 'Confirm booking' }).click();
      await page.waitForURL(/\/bookings\/[0-9a-f-]{36}$/);
      expect(await page.getByRole('status').innerText()).to.equal('Pending');
      const bookings = await bookingsOf(user.email);
      expect(bookings).to.have.length(1);
      expect(bookings[0]!.slot_start?.toISOString()).to.equal(new Date(chosen.start).toISOString());
      expect(await page.locator('.facts').innerText()).to.contain(appointmentTime(chosen.start));
      await checkAtBothWidths(page, 'status-nojs', { axe: false });
      expect(unexpected(problems, [400])).to.deep.equal([]);
      await context.close();
    });
  });
});
