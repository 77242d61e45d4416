import { mkdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import ical from 'node-ical';
import type { Browser, Page } from 'playwright-core';
import { inviteUid } from '../../lib/confirmation/invite.js';
import { createUser, upsertAdmin } from '../../lib/identity/user-service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { launchBrowser, serve } from '../support/browser.js';
import { buildUser, createService } from '../support/factories.js';
import type { Client } from '../support/http.js';
import { parseMime, partOf, type MimePart } from '../support/mime.js';
import {
  adminClient,
  auditTrail,
  bookAt,
  bookingStatus,
  clientOf,
  eventTypes,
  freeSlots,
  patientClient,
  settled,
  type BookingView,
  type SlotView,
} from '../support/saga-helpers.js';
import { SagaSystem, workerNames } from '../support/system.js';
import { waitFor } from '../support/wait.js';

/** A booking of a slot, as its timeline shows it once confirmed. */
const BOOKED_AT = [
  'BookingRequested',
  'SlotReserved',
  'PricingCalculated',
  'DiscountQuotaSkipped',
  'PaymentCompleted',
  'BookingConfirmed',
];
const MOVED = ['RescheduleRequested', 'SlotReserved', 'SlotReleased', 'BookingRescheduled'];
const SCREENSHOTS = '/tmp/clinic-screenshots/reschedule';

describe('reschedule saga end to end (the Procfile processes)', function () {
  this.timeout(40_000);
  let system: SagaSystem;
  let web: TestApp;
  let admin: Client;
  let mailDir: string;

  before(async function () {
    this.timeout(150_000);
    mailDir = await mkdtemp(path.join(tmpdir(), 'clinic-reschedule-mail-'));
    const [started, app] = await Promise.allSettled([
      SagaSystem.start({
        processes: workerNames(),
        env: { PAYMENT_DELAY_MS: '50', MAIL_DIR: mailDir },
        // Six processes start at once on a small, shared machine.
        readyTimeoutMs: 120_000,
      }),
      startTestApp({ relay: true }),
    ]);
    if (started.status === 'fulfilled') system = started.value;
    if (app.status === 'fulfilled') web = app.value;
    if (started.status === 'rejected') throw started.reason;
    if (app.status === 'rejected') throw app.reason;
    admin = await adminClient(web.app, web.db);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') system?.dump();
  });

  after(async function () {
    this.timeout(60_000);
    try {
      await web?.close();
    } finally {
      await system?.stop();
      await rm(mailDir, { recursive: true, force: true });
    }
  });

  async function confirmedAt(patient: Client, slot: SlotView, pricePaise = 40_000): Promise<BookingView> {
    const service = await createService(web.db, { pricePaise });
    const { id } = await bookAt(patient, [service.id], slot.start);
    const booking = await settled(patient, id, { events: BOOKED_AT.length });
    expect(booking.status, JSON.stringify(booking)).to.equal('CONFIRMED');
    expect(eventTypes(booking)).to.deep.equal(BOOKED_AT);
    return booking;
  }

  /** Places held in the slot starting there, as the scheduling participant counts them. */
  async function held(start: string): Promise<number> {
    const row = await web.db
      .selectFrom('scheduling.slots')
      .select('held')
      .where('start', '=', new Date(start))
      .executeTakeFirst();
    return row?.held ?? 0;
  }

  /** Waits until no change is under way and the timeline has at least `events` steps. */
  async function changeSettled(client: Client, id: string, events: number): Promise<BookingView> {
    return waitFor(
      async () => {
        const booking = await bookingStatus(client, id);
        const done =
          (booking.status === 'CONFIRMED' || booking.status === 'CANCELLED') &&
          !(booking as { change?: string | null }).change;
        return done && booking.events.length >= events ? booking : null;
      },
      { timeoutMs: 20_000, intervalMs: 50, message: `the change of booking ${id} to settle` },
    );
  }

  async function emailOf(id: string): Promise<string> {
    const row = await web.db
      .selectFrom('booking.bookings')
      .select('patient_email')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return row.patient_email;
  }

  async function mailTo(email: string): Promise<MimePart[]> {
    const files = (await readdir(mailDir)).sort();
    const messages = await Promise.all(
      files.map(async (file) => parseMime(await readFile(path.join(mailDir, file)))),
    );
    return messages.filter((message) => message.headers.to === email);
  }

  function inviteOf(message: MimePart): { method: string; raw: string; event: ical.VEvent } {
    const calendar = partOf(message, 'text/calendar');
    const raw = calendar?.body.toString() ?? '';
    const event = Object.values(ical.sync.parseICS(raw)).find((c): c is ical.VEvent => c.type === 'VEVENT');
    if (!event) throw new Error('no VEVENT in the message');
    return { method: /method=(\w+)/i.exec(calendar?.contentType ?? '')?.[1] ?? '', raw, event };
  }

  /** 'YYYYMMDDTHHMMSS' of an instant on the IST wall clock. */
  const istStamp = (iso: string) =>
    new Date(new Date(iso).getTime() + 330 * 60_000).toISOString().slice(0, 19).replace(/[-:]/g, '');

  it('moves the place: the old slot’s count down, the new one’s up, the chain on the timeline, the price unchanged, an updated invite', async () => {
    const patient = await patientClient(web.app, web.db);
    const [from, to] = (await freeSlots(patient, 2)) as [SlotView, SlotView];
    const booking = await confirmedAt(patient, from, 42_000);
    expect([await held(from.start), await held(to.start)]).to.deep.equal([1, 0]);

    const res = await patient.post(`/api/bookings/${booking.id}/reschedule`, { slotStart: to.start });
    expect(res.status, res.text).to.equal(202);
    const done = await changeSettled(patient, booking.id, BOOKED_AT.length + MOVED.length);
    expect(eventTypes(done)).to.deep.equal([...BOOKED_AT, ...MOVED]);
    expect(done.status).to.equal('CONFIRMED');
    expect((done as { appointment: { start: string } }).appointment.start).to.equal(to.start);
    expect(done.pricing).to.deep.equal(booking.pricing);
    expect([await held(from.start), await held(to.start)]).to.deep.equal([0, 1]);

    // The confirmation, then the move: same UID, a higher SEQUENCE, the new time in Asia/Kolkata.
    const email = await emailOf(booking.id);
    const messages = await waitFor(
      async () => {
        const found = await mailTo(email);
        return found.length >= 2 ? found : null;
      },
      { timeoutMs: 10_000, message: 'the confirmation and the reschedule emails' },
    );
    const confirmation = messages.find((m) => m.headers.subject === `Booking ${booking.reference} confirmed`);
    const moved = messages.find((m) => m.headers.subject?.startsWith(`Booking ${booking.reference} moved`));
    expect(confirmation && moved, JSON.stringify(messages.map((m) => m.headers.subject))).to.not.equal(
      undefined,
    );
    const first = inviteOf(confirmation as MimePart);
    const update = inviteOf(moved as MimePart);
    expect(update.method).to.equal('REQUEST');
    expect(update.raw).to.match(/^METHOD:REQUEST\r?$/m);
    expect(update.event.uid).to.equal(first.event.uid).and.to.equal(inviteUid(booking.id));
    expect(Number(update.event.sequence)).to.equal(Number(first.event.sequence) + 1);
    expect(update.raw).to.match(new RegExp(`^DTSTART;TZID=Asia/Kolkata:${istStamp(to.start)}\\r?$`, 'm'));
    expect(update.raw).to.match(new RegExp(`^DTEND;TZID=Asia/Kolkata:${istStamp(to.end)}\\r?$`, 'm'));
    expect((update.event.start as ical.DateWithTimeZone).tz).to.equal('Asia/Kolkata');
    expect(update.event.start.toISOString()).to.equal(new Date(to.start).toISOString());
    expect(partOf(moved as MimePart, 'text/plain')?.body.toString()).to.contain('has moved');
    expect(partOf(moved as MimePart, 'text/html')?.body.toString()).to.contain('has moved');

    // A later cancellation withdraws the invite with a SEQUENCE above the reschedule's, and frees the new place.
    expect((await patient.post(`/api/bookings/${booking.id}/cancel`)).status).to.equal(202);
    const cancelled = await changeSettled(patient, booking.id, BOOKED_AT.length + MOVED.length + 4);
    expect(cancelled.status).to.equal('CANCELLED');
    expect([await held(from.start), await held(to.start)]).to.deep.equal([0, 0]);
    const withdrawn = await waitFor(
      async () =>
        (await mailTo(email)).find((m) =>
          m.headers.subject?.startsWith(`Booking ${booking.reference} cancelled`),
        ),
      { timeoutMs: 10_000, message: 'the cancellation email' },
    );
    const cancel = inviteOf(withdrawn);
    expect(cancel.method).to.equal('CANCEL');
    expect(cancel.event.uid).to.equal(first.event.uid);
    expect(Number(cancel.event.sequence)).to.be.above(Number(update.event.sequence));
  });

  it('sends one email per reschedule when BookingRescheduled is delivered again', async () => {
    const patient = await patientClient(web.app, web.db);
    const [from, to] = (await freeSlots(patient, 2)) as [SlotView, SlotView];
    const booking = await confirmedAt(patient, from);
    expect(
      (await patient.post(`/api/bookings/${booking.id}/reschedule`, { slotStart: to.start })).status,
    ).to.equal(202);
    await changeSettled(patient, booking.id, BOOKED_AT.length + MOVED.length);
    const email = await emailOf(booking.id);
    const subject = `Booking ${booking.reference} moved`;
    await waitFor(async () => (await mailTo(email)).some((m) => m.headers.subject?.startsWith(subject)), {
      timeoutMs: 10_000,
      message: 'the reschedule email',
    });

    const row = await web.db
      .selectFrom('bus.outbox')
      .select('payload')
      .where(sql<string>`payload->>'type'`, '=', 'BookingRescheduled')
      .where(sql<string>`payload->>'bookingId'`, '=', booking.id)
      .executeTakeFirstOrThrow();
    const envelope = row.payload as { type: string };
    const redis = new Redis(process.env.REDIS_URL as string);
    try {
      const key = `${process.env.REDIS_PREFIX}stream:booking`;
      const entryId = (await redis.xadd(
        key,
        '*',
        'type',
        envelope.type,
        'event',
        JSON.stringify(envelope),
      )) as string;
      await waitFor(
        async () => {
          const groups = (await redis.call('XINFO', 'GROUPS', key)) as (string | number)[][];
          const info = groups.map((fields) =>
            Object.fromEntries(fields.flatMap((v, i) => (i % 2 ? [] : [[String(v), fields[i + 1]]]))),
          );
          const confirmation = info.find((g) => g.name === 'confirmation');
          return (
            confirmation &&
            afterOrAt(String(confirmation['last-delivered-id']), entryId) &&
            Number(confirmation.pending) === 0
          );
        },
        { message: 'the confirmation group to handle the redelivered entry' },
      );
    } finally {
      redis.disconnect();
    }
    const sent = (await mailTo(email)).filter((m) => m.headers.subject?.startsWith(subject));
    expect(sent).to.have.length(1);
    const notices = await web.db
      .selectFrom('confirmation.notices')
      .select(['kind', 'sequence', 'status'])
      .where('booking_id', '=', booking.id)
      .execute();
    expect(notices).to.deep.equal([{ kind: 'reschedule', sequence: 1, status: 'sent' }]);
  });

  it('rejects a move to a full slot: RescheduleRejected, the booking keeps its slot and stays confirmed', async () => {
    const patient = await patientClient(web.app, web.db);
    const [from, full] = (await freeSlots(patient, 2)) as [SlotView, SlotView];
    const booking = await confirmedAt(patient, from);
    // Every place of the new slot taken (by others) after the patient saw it free.
    await sql`INSERT INTO scheduling.slots (start, held) VALUES (${new Date(full.start)}, ${full.capacity})
      ON CONFLICT (start) DO UPDATE SET held = ${full.capacity}`.execute(web.db);

    expect(
      (await patient.post(`/api/bookings/${booking.id}/reschedule`, { slotStart: full.start })).status,
    ).to.equal(202);
    const done = await changeSettled(patient, booking.id, BOOKED_AT.length + 2);
    expect(eventTypes(done)).to.deep.equal([...BOOKED_AT, 'RescheduleRequested', 'RescheduleRejected']);
    expect(done.status).to.equal('CONFIRMED');
    expect((done as { appointment: { start: string } }).appointment.start).to.equal(from.start);
    expect([await held(from.start), await held(full.start)]).to.deep.equal([1, full.capacity]);
    const hold = await web.db
      .selectFrom('scheduling.holds')
      .select(['slot_start', 'status'])
      .where('booking_id', '=', booking.id)
      .executeTakeFirstOrThrow();
    expect(hold).to.deep.equal({ slot_start: new Date(from.start), status: 'held' });
    // Free to try another time.
    const page = await patient.get(`/bookings/${booking.id}`).expect(200);
    expect(page.text).to.contain('That time was no longer available');
  });

  it('holds one place when two reschedules of one booking race', async () => {
    const patient = await patientClient(web.app, web.db);
    const [from, a, b] = (await freeSlots(patient, 3)) as [SlotView, SlotView, SlotView];
    const booking = await confirmedAt(patient, from);
    // Scheduling stopped meanwhile: the first move cannot settle before the second is answered, as
    // it could on a fast run (the second request then finds nothing in progress, rightly).
    expect(await system.kill('scheduling', 'SIGTERM')).to.deep.equal({ code: 0, signal: null });
    let answers: Awaited<ReturnType<typeof patient.post>>[];
    try {
      answers = await Promise.all([
        patient.post(`/api/bookings/${booking.id}/reschedule`, { slotStart: a.start }),
        patient.post(`/api/bookings/${booking.id}/reschedule`, { slotStart: b.start }),
      ]);
    } finally {
      await system.launch('scheduling');
    }
    expect(answers.map((res) => res.status).sort()).to.deep.equal([202, 409]);
    const winner = answers[0]?.status === 202 ? a : b;
    const done = await changeSettled(patient, booking.id, BOOKED_AT.length + MOVED.length);
    expect(eventTypes(done)).to.deep.equal([...BOOKED_AT, ...MOVED]);
    const counts = [await held(from.start), await held(a.start), await held(b.start)];
    expect(counts.reduce((sum, n) => sum + n, 0)).to.equal(1);
    expect(await held(winner.start)).to.equal(1);
  });

  it('ends a cancel racing a reschedule in one consistent state: places held once, one refund at most', async () => {
    const patient = await patientClient(web.app, web.db);
    const [from, to] = (await freeSlots(patient, 2)) as [SlotView, SlotView];
    const booking = await confirmedAt(patient, from);
    const [moved, cancelled] = await Promise.all([
      patient.post(`/api/bookings/${booking.id}/reschedule`, { slotStart: to.start }),
      patient.post(`/api/bookings/${booking.id}/cancel`),
    ]);
    expect([moved.status, cancelled.status].sort()).to.deep.equal([202, 409]);
    const done = await changeSettled(patient, booking.id, BOOKED_AT.length + (moved.status === 202 ? 4 : 3));
    const refunds = await web.db
      .selectFrom('payment.payments')
      .select('status')
      .where('booking_id', '=', booking.id)
      .execute();
    if (moved.status === 202) {
      expect(done.status).to.equal('CONFIRMED');
      expect([await held(from.start), await held(to.start)]).to.deep.equal([0, 1]);
      expect(refunds.map((p) => p.status)).to.deep.equal(['COMPLETED']);
    } else {
      expect(done.status).to.equal('CANCELLED');
      expect([await held(from.start), await held(to.start)]).to.deep.equal([0, 0]);
      expect(refunds.map((p) => p.status)).to.deep.equal(['REFUNDED']);
    }
    // Whichever won, a cancel afterwards frees every place once and refunds once.
    if (done.status === 'CONFIRMED') {
      expect((await patient.post(`/api/bookings/${booking.id}/cancel`)).status).to.equal(202);
      const end = await changeSettled(patient, booking.id, done.events.length + 3);
      expect(end.status).to.equal('CANCELLED');
    }
    expect([await held(from.start), await held(to.start)]).to.deep.equal([0, 0]);
    const view = await bookingStatus(patient, booking.id);
    expect(eventTypes(view).filter((type) => type === 'PaymentRefunded')).to.have.length(1);
    const released = eventTypes(view).filter((type) => type === 'SlotReleased');
    expect(released).to.have.length(moved.status === 202 ? 2 : 1);
  });

  it('lets an admin move a patient’s visit with a reason, audited under the admin’s name', async () => {
    const patient = await patientClient(web.app, web.db);
    const [from, to] = (await freeSlots(patient, 2)) as [SlotView, SlotView];
    const booking = await confirmedAt(patient, from);
    const res = await admin.post(`/api/bookings/${booking.id}/reschedule`, {
      slotStart: to.start,
      reason: 'The doctor is away that morning',
    });
    expect(res.status, res.text).to.equal(202);
    await changeSettled(patient, booking.id, BOOKED_AT.length + MOVED.length);
    const me = await admin.get('/api/me').expect(200);
    const asked = (await auditTrail(admin, booking.correlationId)).find(
      (e) => e.type === 'RescheduleRequested',
    );
    expect(asked?.actor).to.equal(me.body.user.email);
    expect(asked?.data).to.include({ reason: 'The doctor is away that morning', requestedBy: 'admin' });
  });

  describe('in a real browser', function () {
    let server: { url: string; close(): Promise<void> };
    let browser: Browser;

    before(async () => {
      mkdirSync(SCREENSHOTS, { recursive: true });
      server = await serve(web.app);
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await server?.close();
    });

    async function axeClean(page: Page) {
      const result = await new AxeBuilder({ page }).analyze();
      const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      expect(serious.map((v) => `${v.id}: ${v.help}`)).to.deep.equal([]);
    }

    /** "Wed 2 Dec": how the picker names a slot's IST day. */
    const dayName = (start: string) =>
      new Date(start).toLocaleDateString('en-GB', {
        timeZone: 'Asia/Kolkata',
        weekday: 'short',
        day: 'numeric',
        month: 'short',
      });

    async function loggedInPage(width: number, next: string) {
      const user = buildUser();
      await createUser(web.db, user);
      const patient = clientOf(web.app);
      await patient.login(user);
      const context = await browser.newContext({ viewport: { width, height: 900 } });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
      page.on('pageerror', (error) => problems.push(error.message));
      return { user, patient, context, page, problems, next };
    }

    async function logIn(page: Page, user: { email: string; password: string }, next: string) {
      await page.goto(`${server.url}/login?next=${next}`);
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL(`${server.url}${next}`);
    }

    for (const width of [360, 1280]) {
      it(`moves a visit from the status page’s Reschedule button, at ${width} px`, async () => {
        const { user, patient, context, page, problems } = await loggedInPage(width, '');
        try {
          const [from, to] = (await freeSlots(patient, 2)) as [SlotView, SlotView];
          const booking = await confirmedAt(patient, from);
          await logIn(page, user, `/bookings/${booking.id}`);
          expect(await page.getByRole('status').innerText()).to.contain('Confirmed');
          await page.getByRole('link', { name: 'Reschedule' }).click();
          await page.waitForURL(`${server.url}/bookings/${booking.id}/reschedule`);
          expect(await page.getByRole('heading', { level: 1 }).innerText()).to.equal(
            `Reschedule booking ${booking.reference}`,
          );
          await page.getByRole('link', { name: new RegExp(`^${dayName(to.start)}`) }).click();
          const time = page.getByRole('radio', { name: to.start.slice(11, 16), exact: true });
          await time.check();
          await axeClean(page);
          await page.screenshot({ path: path.join(SCREENSHOTS, `reschedule-${width}.png`), fullPage: true });
          await page.getByRole('button', { name: 'Reschedule' }).click();

          await page.waitForURL(`${server.url}/bookings/${booking.id}`);
          await page
            .getByRole('listitem')
            .filter({ hasText: 'Booking rescheduled' })
            .waitFor({ timeout: 20_000 });
          // The first place and the new one are both a reserved slot; the old one is released once.
          for (const [label, times] of [
            ['Reschedule requested', 1],
            ['Time slot reserved', 2],
            ['Time slot released', 1],
          ] as const) {
            expect(await page.getByRole('listitem').filter({ hasText: label }).count(), label).to.equal(
              times,
            );
          }
          await page.getByText('Your visit has moved').waitFor();
          expect(await page.locator('.appointment').innerText()).to.contain(to.start.slice(11, 16));
          expect(await page.getByRole('status').innerText()).to.contain('Confirmed');
          expect([await held(from.start), await held(to.start)]).to.deep.equal([0, 1]);
          await axeClean(page);
          await page.screenshot({
            path: path.join(SCREENSHOTS, `status-rescheduled-${width}.png`),
            fullPage: true,
          });
          expect(problems).to.deep.equal([]);
        } finally {
          await context.close();
        }
      });
    }

    it('says so when the chosen time filled up meanwhile, and the booking keeps its time', async () => {
      const { user, patient, context, page, problems } = await loggedInPage(1280, '');
      try {
        const [from, full] = (await freeSlots(patient, 2)) as [SlotView, SlotView];
        const booking = await confirmedAt(patient, from);
        await logIn(page, user, `/bookings/${booking.id}/reschedule?day=${full.start.slice(0, 10)}`);
        await page.getByRole('radio', { name: full.start.slice(11, 16), exact: true }).check();
        await sql`INSERT INTO scheduling.slots (start, held) VALUES (${new Date(full.start)}, ${full.capacity})
          ON CONFLICT (start) DO UPDATE SET held = ${full.capacity}`.execute(web.db);
        await page.getByRole('button', { name: 'Reschedule' }).click();
        await page.waitForURL(`${server.url}/bookings/${booking.id}`);
        await page.getByText('That time was no longer available').waitFor({ timeout: 20_000 });
        expect(
          await page.getByRole('listitem').filter({ hasText: 'New time not available' }).count(),
        ).to.equal(1);
        expect(await page.locator('.appointment').innerText()).to.contain(from.start.slice(11, 16));
        expect(await page.getByRole('link', { name: 'Reschedule' }).isVisible()).to.equal(true);
        await axeClean(page);
        await page.screenshot({
          path: path.join(SCREENSHOTS, 'status-reschedule-rejected-1280.png'),
          fullPage: true,
        });
        expect(problems).to.deep.equal([]);
      } finally {
        await context.close();
      }
    });

    it('asks an admin for the reason before moving a patient’s visit', async () => {
      const patient = await patientClient(web.app, web.db);
      const [from, to] = (await freeSlots(patient, 2)) as [SlotView, SlotView];
      const booking = await confirmedAt(patient, from);
      const credentials = {
        email: `admin-${Date.now()}@example.com`,
        password: 'admin password 123',
        name: 'Admin',
      };
      await upsertAdmin(web.db, credentials);
      const context = await browser.newContext({ viewport: { width: 360, height: 900 } });
      const page = await context.newPage();
      try {
        const next = `/bookings/${booking.id}/reschedule?day=${to.start.slice(0, 10)}`;
        await logIn(page, credentials, next);
        await page.getByRole('radio', { name: to.start.slice(11, 16), exact: true }).check();
        await page.getByRole('button', { name: 'Reschedule' }).click();
        await page.getByRole('alert').waitFor();
        expect(await page.getByRole('alert').innerText()).to.contain('Reason');
        await axeClean(page);
        await page.screenshot({
          path: path.join(SCREENSHOTS, 'reschedule-admin-error-360.png'),
          fullPage: true,
        });
        expect(((await bookingStatus(patient, booking.id)) as { change?: string | null }).change).to.equal(
          null,
        );
        await page.getByLabel(/Reason/).fill('Doctor unavailable');
        await page.getByRole('radio', { name: to.start.slice(11, 16), exact: true }).check();
        await page.getByRole('button', { name: 'Reschedule' }).click();
        await page.waitForURL(`${server.url}/bookings/${booking.id}`);
        await changeSettled(patient, booking.id, BOOKED_AT.length + MOVED.length);
        expect(await held(to.start)).to.equal(1);
      } finally {
        await context.close();
      }
    });
  });
});

function afterOrAt(id: string, than: string): boolean {
  const [ms = 0, seq = 0] = id.split('-').map(Number);
  const [otherMs = 0, otherSeq = 0] = than.split('-').map(Number);
  return ms > otherMs || (ms === otherMs && seq >= otherSeq);
}
