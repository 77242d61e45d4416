import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { addDays, istDate, systemClock } from '../../lib/clock.js';
import { upsertAdmin } from '../../lib/identity/user-service.js';
import { getSchedule, updateSchedule } from '../../lib/scheduling/schedule-service.js';
import { istInstant, slotsOfDay } from '../../lib/scheduling/slot-rules.js';
import { calendarDate, fillRateText } from '../../server/views/helpers.js';
import { trackWrites } from '../support/api-helpers.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { expectAccessible, logInOnPage, screenshots360And1280, watchedPage } from '../support/admin-pages.js';
import { launchBrowser, serve } from '../support/browser.js';
import { buildPatient, createService } from '../support/factories.js';
import type { Client } from '../support/http.js';
import { patientClient, type SlotView } from '../support/saga-helpers.js';

// The admin pages of appointments: the schedule form, one day's appointments and the dashboard's
// fill rate. No saga workers: bookings stay Pending with the time they asked for.
describe('appointment admin pages in a real browser', function () {
  this.timeout(60_000);
  let testApp: TestApp;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let cleanUp: () => Promise<void>;
  let patient: Client;
  /** Slot rows this file wrote, removed afterwards (the slots table is not the bookings'). */
  const heldStarts: Date[] = [];
  const admin = { email: `sched-${randomUUID().slice(0, 8)}@example.com`, password: 'admin password 123' };

  before(async () => {
    testApp = await startTestApp();
    cleanUp = await trackWrites(testApp.db);
    server = await serve(testApp.app);
    browser = await launchBrowser();
    await upsertAdmin(testApp.db, { ...admin, name: 'Sunita Admin' });
    patient = await patientClient(testApp.app, testApp.db);
  });

  beforeEach(async () => {
    ({ page, problems } = await watchedPage(browser));
    await logInOnPage(page, server.url, admin);
  });

  afterEach(async () => {
    await page.context().close();
    if (heldStarts.length > 0)
      await testApp.db.deleteFrom('scheduling.slots').where('start', 'in', heldStarts.splice(0)).execute();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await cleanUp?.();
    await testApp?.close();
  });

  const nav = () => page.getByRole('navigation', { name: 'Main' });

  /** Places held in a slot, as bookings of other patients would hold them. */
  async function holdPlaces(start: Date, held: number) {
    heldStarts.push(start);
    await testApp.db
      .insertInto('scheduling.slots')
      .values({ start, held })
      .onConflict((oc) => oc.column('start').doUpdateSet({ held }))
      .execute();
  }

  /** An open day ahead with at least `count` free slots, and those slots. */
  async function freeDay(count: number, after = 1): Promise<{ date: string; slots: SlotView[] }> {
    const res = await patient.get(`/api/slots?from=${addDays(istDate(new Date()), after)}&days=14`);
    expect(res.status).to.equal(200);
    const byDay = new Map<string, SlotView[]>();
    for (const slot of res.body.slots as SlotView[])
      if (slot.available === slot.capacity)
        byDay.set(slot.start.slice(0, 10), [...(byDay.get(slot.start.slice(0, 10)) ?? []), slot]);
    const found = [...byDay.entries()].find(([, slots]) => slots.length >= count);
    expect(found, 'an open day with free slots').to.not.equal(undefined);
    return { date: found![0], slots: found![1] };
  }

  it('saves a schedule change from the form, shows it and the notices it leaves, and audits it', async () => {
    const original = await getSchedule(testApp.db);
    try {
      // Places already held that the change leaves out: a full slot (capacity lowered) and a held
      // place on a day that becomes a holiday.
      const { date, slots } = await freeDay(2);
      const holiday = (await freeDay(1, 8)).date;
      await holdPlaces(new Date(slots[1]!.start), original.capacity);
      await holdPlaces(istInstant(holiday, original.hours.monday?.opens ?? '09:00'), 1);

      await page.goto(`${server.url}/admin`);
      await nav().getByRole('link', { name: 'Schedule', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Schedule' }).waitFor();
      await expectAccessible(page);
      await screenshots360And1280(page, 'admin-schedule');

      const saturday = page.getByRole('group', { name: 'Saturday' });
      expect(await saturday.getByLabel('Open').isChecked()).to.equal(original.hours.saturday !== null);
      await saturday.getByLabel('Open').check();
      await saturday.getByLabel('From').fill('09:00');
      await saturday.getByLabel('To').fill('13:00');
      await page.getByLabel('Capacity per slot').fill(String(original.capacity - 1));
      await page.getByLabel('Add a closed date').fill(holiday);
      await page.getByRole('button', { name: 'Save' }).click();

      const saved = page.getByRole('status');
      await saved.filter({ hasText: 'Schedule saved' }).waitFor();
      const notices = await saved.innerText();
      expect(notices).to.match(/\d+ upcoming slots? holds? more patients than the new capacity/);
      expect(notices).to.match(/\d+ upcoming appointments? (is|are) at times the clinic is now closed/);
      expect(await page.getByLabel('Capacity per slot').inputValue()).to.equal(String(original.capacity - 1));
      expect(await saturday.getByLabel('To').inputValue()).to.equal('13:00');
      expect(await page.getByLabel(`Remove ${calendarDate(holiday)}`).isChecked()).to.equal(false);
      await expectAccessible(page);
      await screenshots360And1280(page, 'admin-schedule-saved');

      // The patients' list of slots follows it, and the change is in the audit trail with its author.
      const listed = await patient.get(`/api/slots?from=${date}&days=1`);
      expect((listed.body.slots as SlotView[])[0]?.capacity).to.equal(original.capacity - 1);
      const closed = await patient.get(`/api/slots?from=${holiday}&days=1`);
      expect(closed.body.slots).to.deep.equal([]);
      const audit = await testApp.db
        .selectFrom('audit.entries')
        .select(['actor', 'data'])
        .where('type', '=', 'AdminScheduleUpdated')
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      expect(audit.actor).to.equal(admin.email);
      const after = (audit.data as { after: { capacity: number; closedDates: string[] } }).after;
      expect(after.capacity).to.equal(original.capacity - 1);
      expect(after.closedDates).to.include(holiday);

      // The holiday is opened again by ticking it for removal.
      await page.getByLabel(`Remove ${calendarDate(holiday)}`).check();
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('status').filter({ hasText: 'Schedule saved' }).waitFor();
      expect(await page.getByLabel(`Remove ${calendarDate(holiday)}`).count()).to.equal(0);
      expect(problems).to.deep.equal([]);
    } finally {
      const { version: _v, updatedAt: _u, updatedBy: _b, ...fields } = original;
      await updateSchedule(testApp.db, systemClock, 'test restore', fields);
    }
  });

  it('shows the schedule form’s errors by each field and in a summary, saving nothing', async () => {
    const before = await getSchedule(testApp.db);
    await page.goto(`${server.url}/admin/schedule`);
    const monday = page.getByRole('group', { name: 'Monday' });
    await monday.getByLabel('Open').check();
    await monday.getByLabel('From').fill('18:00');
    await monday.getByLabel('To').fill('09:00');
    await page.getByLabel('Slot length (minutes)').fill('7');
    await page.getByLabel('Capacity per slot').fill('0');
    await page.getByRole('button', { name: 'Save' }).click();
    const summary = page.getByRole('alert');
    await summary.waitFor();
    const text = await summary.innerText();
    expect(text).to.contain('Monday: closing after opening');
    expect(text).to.contain('Slot length (minutes): a multiple of 5');
    expect(text).to.contain('Capacity per slot:');
    expect(await page.getByLabel('Slot length (minutes)').getAttribute('aria-invalid')).to.equal('true');
    expect(await page.getByLabel('Slot length (minutes)').inputValue()).to.equal('7');
    expect(await monday.getByLabel('From').getAttribute('aria-invalid')).to.equal('true');
    // The summary's link takes the focus to its field.
    await summary.getByRole('link', { name: /^Capacity per slot/ }).click();
    expect(await page.evaluate('document.activeElement.id')).to.equal('capacity');
    await expectAccessible(page);
    await screenshots360And1280(page, 'admin-schedule-errors');
    expect((await getSchedule(testApp.db)).version).to.equal(before.version);
    expect(problems).to.deep.equal([]);
  });

  it('lists a day’s appointments in time order, steps between days, and refuses a bad date', async () => {
    const service = await createService(testApp.db, { name: `Checkup ${randomUUID().slice(0, 4)}` });
    const { date, slots } = await freeDay(5);
    const next = addDays(date, 1);
    // Booked out of time order; the page lists them by time.
    const booked: { id: string; reference: string; start: string; name: string }[] = [];
    for (const [i, slot] of [slots[4]!, slots[0]!, slots[2]!].entries()) {
      const name = `Appointment Patient ${i + 1}`;
      const res = await patient.post('/api/bookings', {
        patient: buildPatient({ name }),
        serviceIds: [service.id],
        slotStart: slot.start,
      });
      expect(res.status, res.text).to.equal(202);
      booked.push({ ...res.body.booking, start: slot.start, name });
    }

    await page.goto(`${server.url}/admin`);
    await nav().getByRole('link', { name: 'Appointments', exact: true }).click();
    await page.waitForURL(`${server.url}/admin/appointments`);
    const today = istDate(new Date());
    await page.getByRole('heading', { level: 1, name: `Appointments on ${calendarDate(today)}` }).waitFor();
    expect(await page.getByLabel('Date').inputValue()).to.equal(today);

    await page.getByLabel('Date').fill(date);
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(`${server.url}/admin/appointments?date=${date}`);
    const table = page.getByRole('table', { name: `Appointments on ${calendarDate(date)}, in time order` });
    const rows = table.locator('tbody tr');
    const inOrder = [...booked].sort((a, b) => a.start.localeCompare(b.start));
    const mine = rows.filter({ hasText: 'Appointment Patient' });
    expect(await mine.count()).to.equal(3);
    for (const [i, expected] of inOrder.entries()) {
      const row = mine.nth(i);
      expect(await row.locator('time').innerText()).to.equal(expected.start.slice(11, 16));
      expect(await row.getByRole('link', { name: expected.reference }).getAttribute('href')).to.equal(
        `/admin/bookings/${expected.id}`,
      );
      const text = await row.innerText();
      expect(text).to.contain(expected.name);
      expect(text).to.contain(service.name);
      expect(text).to.contain('Pending');
    }
    // Every row of the day is in time order, this file's or not.
    const times = await rows
      .locator('time')
      .evaluateAll((items) => items.map((item) => item.getAttribute('datetime')));
    expect(times).to.deep.equal([...times].sort());
    await expectAccessible(page);
    await screenshots360And1280(page, 'admin-appointments');

    await page.getByRole('link', { name: /^Next day/ }).click();
    await page.waitForURL(`${server.url}/admin/appointments?date=${next}`);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).to.equal(
      `Appointments on ${calendarDate(next)}`,
    );
    expect(await page.getByText('Appointment Patient').count()).to.equal(0);
    await page.getByRole('link', { name: /^Previous day/ }).click();
    await page.waitForURL(`${server.url}/admin/appointments?date=${date}`);

    // The reference opens the booking, which shows its appointment.
    await page.getByRole('link', { name: inOrder[0]!.reference }).click();
    await page.getByRole('heading', { level: 1, name: `Booking ${inOrder[0]!.reference}` }).waitFor();
    expect(await page.locator('.summary-list').innerText()).to.contain(inOrder[0]!.start.slice(11, 16));

    const bad = await page.goto(`${server.url}/admin/appointments?date=2026-02-30`);
    expect(bad?.status()).to.equal(400);
    expect(await page.getByRole('alert').innerText()).to.contain('Date: enter a real date as YYYY-MM-DD');
    expect(await page.getByLabel('Date').getAttribute('aria-invalid')).to.equal('true');
    await expectAccessible(page);
    await screenshots360And1280(page, 'admin-appointments-bad-date');
    expect(problems).to.deep.equal([]);
  });

  it('shows today’s fill rate on the dashboard, as a percentage and the places, and keeps it live', async () => {
    const today = istDate(new Date());
    const schedule = await getSchedule(testApp.db);
    const todaySlots = slotsOfDay(schedule, today);
    /** Today's figures counted here from the tables, not by the code under test. */
    const figures = async () => {
      const rows =
        todaySlots.length === 0
          ? []
          : await testApp.db
              .selectFrom('scheduling.slots')
              .select(['start', 'held'])
              .where(
                'start',
                'in',
                todaySlots.map((slot) => slot.start),
              )
              .execute();
      const held = rows.reduce((sum, row) => sum + row.held, 0);
      const places = todaySlots.length * schedule.capacity;
      return { held, places, fillRate: places === 0 ? null : Math.round((held / places) * 1000) / 1000 };
    };
    if (todaySlots.length > 0) await holdPlaces(todaySlots[0]!.start, 2);
    const first = await figures();
    await page.goto(`${server.url}/admin`);
    const cell = page.locator('[data-stat="fill-rate"]');
    expect(await cell.innerText()).to.equal(fillRateText(first));
    if (first.places > 0)
      expect(await cell.innerText()).to.contain(`${first.held} of ${first.places} places held`);
    const stats = await page.request.get(`${server.url}/api/admin/stats`);
    expect((await stats.json()).appointments).to.deep.include(first);
    await expectAccessible(page);
    await screenshots360And1280(page, 'admin-dashboard-fill-rate');

    if (todaySlots.length > 0) {
      // A place taken meanwhile shows without a reload.
      await holdPlaces(todaySlots[0]!.start, 3);
      const second = await figures();
      await cell.filter({ hasText: fillRateText(second) }).waitFor({ timeout: 20_000 });
    }
    expect(problems).to.deep.equal([]);
  });
});
