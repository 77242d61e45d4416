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
import { createUser } from '../../lib/identity/user-service.js';
import { projectRoot } from '../../lib/paths.js';
import { inviteUid } from '../../lib/confirmation/invite.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { launchBrowser, serve } from '../support/browser.js';
import { buildUser, createService } from '../support/factories.js';
import type { Client } from '../support/http.js';
import { parseMime, partOf, type MimePart } from '../support/mime.js';
import {
  FLOWS,
  adminClient,
  auditTrail,
  book,
  bookAt,
  bookingStatus,
  freeSlots,
  type SlotView,
  clientOf,
  ensureQuotaRoom,
  eventTypes,
  ordinaryPatient,
  patientClient,
  quotaToday,
  settled,
  type BookingView,
} from '../support/saga-helpers.js';
import { SagaSystem, workerNames } from '../support/system.js';
import { waitFor } from '../support/wait.js';

describe('cancellation saga end to end (the Procfile processes)', function () {
  this.timeout(40_000);
  let system: SagaSystem;
  let web: TestApp;
  let admin: Client;
  let mailDir: string;

  before(async function () {
    this.timeout(150_000);
    mailDir = await mkdtemp(path.join(tmpdir(), 'clinic-cancellation-mail-'));
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

  async function confirmedBooking(patient: Client, pricePaise: number, discounted = false) {
    const service = await createService(web.db, { pricePaise });
    const { id } = await book(patient, [service.id], ordinaryPatient());
    const flow = discounted ? FLOWS.discounted : FLOWS.undiscounted;
    const booking = await settled(patient, id, { events: flow.length });
    expect(booking.status).to.equal('CONFIRMED');
    expect(eventTypes(booking)).to.deep.equal(flow);
    return booking;
  }

  async function cancelled(client: Client, id: string, events: number): Promise<BookingView> {
    return waitFor(
      async () => {
        const booking = await bookingStatus(client, id);
        return booking.status === 'CANCELLED' && booking.events.length >= events ? booking : null;
      },
      { timeoutMs: 20_000, intervalMs: 50, message: `booking ${id} to be cancelled` },
    );
  }

  /** The messages written to the mail folder for this address, oldest first. */
  async function mailTo(email: string): Promise<MimePart[]> {
    const files = (await readdir(mailDir)).sort();
    const messages = await Promise.all(
      files.map(async (file) => parseMime(await readFile(path.join(mailDir, file)))),
    );
    return messages.filter((message) => message.headers.to === email);
  }

  function inviteOf(message: MimePart): { method: string; event: ical.VEvent } {
    const calendar = partOf(message, 'text/calendar');
    const parsed = ical.sync.parseICS(calendar?.body.toString() ?? '');
    const event = Object.values(parsed).find((c): c is ical.VEvent => c.type === 'VEVENT');
    if (!event) throw new Error('no VEVENT in the message');
    return { method: /method=(\w+)/i.exec(calendar?.contentType ?? '')?.[1] ?? '', event };
  }

  it('cancels a confirmed booking: refund in full, CANCELLED, the receipt shows the refund, the invite is withdrawn', async () => {
    const patient = await patientClient(web.app, web.db);
    const booking = await confirmedBooking(patient, 45_000);
    const res = await patient.post(`/api/bookings/${booking.id}/cancel`, { reason: 'Travelling that day' });
    expect(res.status, res.text).to.equal(202);

    const done = await cancelled(patient, booking.id, FLOWS.undiscounted.length + 3);
    expect(eventTypes(done)).to.deep.equal([
      ...FLOWS.undiscounted,
      'CancellationRequested',
      'PaymentRefunded',
      'BookingCancelled',
    ]);
    expect(done.reason).to.equal('Travelling that day');
    const [payment] = await web.db
      .selectFrom('payment.payments')
      .selectAll()
      .where('booking_id', '=', booking.id)
      .execute();
    expect(payment).to.include({ status: 'REFUNDED', amount_paise: 45_000 });

    const receipt = await patient.get(`/bookings/${booking.id}/receipt`).expect(200);
    expect(receipt.text).to.contain('Refund').and.to.contain('Rupees Four Hundred Fifty Only');

    const email = (
      await web.db
        .selectFrom('booking.bookings')
        .select('patient_email')
        .where('id', '=', booking.id)
        .executeTakeFirstOrThrow()
    ).patient_email;
    const messages = await waitFor(
      async () => {
        const found = await mailTo(email);
        return found.length >= 2 ? found : null;
      },
      { timeoutMs: 10_000, message: 'the confirmation and the cancellation emails' },
    );
    // Written within one second, the two files need not sort in sending order: find each by subject.
    const bySubject = (subject: string) => messages.find((message) => message.headers.subject === subject);
    const confirmation = bySubject(`Booking ${booking.reference} confirmed`);
    const cancellation = bySubject(`Booking ${booking.reference} cancelled: ₹450.00 refunded`);
    expect(confirmation && cancellation, JSON.stringify(messages.map((m) => m.headers.subject))).to.not.equal(
      undefined,
    );
    const request = inviteOf(confirmation as MimePart);
    const cancel = inviteOf(cancellation as MimePart);
    expect(request.method).to.equal('REQUEST');
    expect(cancel.method).to.equal('CANCEL');
    expect(cancel.event.uid).to.equal(request.event.uid).and.to.equal(inviteUid(booking.id));
    expect(Number(cancel.event.sequence)).to.be.above(Number(request.event.sequence));
    expect(cancel.event.status).to.equal('CANCELLED');
    expect(partOf(cancellation as MimePart, 'text/plain')?.body.toString()).to.contain('Refund: ₹450.00');

    const trail = await auditTrail(admin, booking.correlationId);
    const asked = trail.find((entry) => entry.type === 'CancellationRequested');
    expect(asked?.actor).to.match(/@example\.com$/);
    expect(asked?.data).to.include({ reason: 'Travelling that day', requestedBy: 'patient' });
  });

  it('cancels a booking with an appointment: its place goes back to the slot, the invite held its time', async () => {
    const patient = await patientClient(web.app, web.db);
    const service = await createService(web.db, { pricePaise: 40_000 });
    const [slot] = await freeSlots(patient, 1);
    const { id } = await bookAt(patient, [service.id], (slot as SlotView).start);
    const booking = await settled(patient, id, { events: 6 });
    expect(booking.status, JSON.stringify(booking)).to.equal('CONFIRMED');
    expect(eventTypes(booking)).to.include('SlotReserved');
    const before = (await freeSlots(patient, 1000).catch(() => [])) as SlotView[];
    expect(before.some((free) => free.start === slot?.start)).to.equal(false);

    expect((await patient.post(`/api/bookings/${id}/cancel`)).status).to.equal(202);
    const done = await cancelled(patient, id, eventTypes(booking).length + 4);
    expect(eventTypes(done).slice(-4, -1).sort()).to.deep.equal(
      ['CancellationRequested', 'PaymentRefunded', 'SlotReleased'].sort(),
    );
    expect(eventTypes(done).at(-1)).to.equal('BookingCancelled');
    const res = await patient.get(`/api/slots?from=${(slot as SlotView).start.slice(0, 10)}&days=1`);
    const again = (res.body.slots as SlotView[]).find((free) => free.start === slot?.start);
    expect(again?.available).to.equal(again?.capacity);

    const email = (
      await web.db
        .selectFrom('booking.bookings')
        .select('patient_email')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
    ).patient_email;
    const messages = await waitFor(
      async () => {
        const found = await mailTo(email);
        return found.length >= 2 ? found : null;
      },
      { timeoutMs: 10_000, message: 'the confirmation and the cancellation emails' },
    );
    const confirmation = messages.find((message) => message.headers.subject?.endsWith('confirmed'));
    const invite = inviteOf(confirmation as MimePart).event;
    expect(invite.start.toISOString()).to.equal(new Date((slot as SlotView).start).toISOString());
    expect((invite.start as ical.DateWithTimeZone).tz).to.equal('Asia/Kolkata');
  });

  it('gives a cancelled discounted booking’s slot back to the day it was taken', async () => {
    await ensureQuotaRoom(admin, web.db, 3);
    const patient = await patientClient(web.app, web.db);
    const booking = await confirmedBooking(patient, 150_000, true);
    const [reservation] = await web.db
      .selectFrom('quota.reservations')
      .selectAll()
      .where('booking_id', '=', booking.id)
      .execute();
    const before = await quotaToday(admin);
    expect(reservation?.day).to.equal(before.date);

    expect((await patient.post(`/api/bookings/${booking.id}/cancel`)).status).to.equal(202);
    const done = await cancelled(patient, booking.id, FLOWS.discounted.length + 4);
    const types = eventTypes(done);
    expect(types.slice(0, FLOWS.discounted.length)).to.deep.equal(FLOWS.discounted);
    expect(types[FLOWS.discounted.length]).to.equal('CancellationRequested');
    expect(types.slice(FLOWS.discounted.length + 1, -1).sort()).to.deep.equal([
      'DiscountQuotaReleased',
      'PaymentRefunded',
    ]);
    expect(types.at(-1)).to.equal('BookingCancelled');
    expect((await quotaToday(admin)).used).to.equal(before.used - 1);
    const released = await web.db
      .selectFrom('quota.reservations')
      .select('status')
      .where('booking_id', '=', booking.id)
      .executeTakeFirstOrThrow();
    expect(released.status).to.equal('released');
  });

  it('refunds once when two cancels race, and once when CancellationRequested is delivered again', async () => {
    const patient = await patientClient(web.app, web.db);
    const booking = await confirmedBooking(patient, 30_000);
    const answers = await Promise.all([
      patient.post(`/api/bookings/${booking.id}/cancel`),
      patient.post(`/api/bookings/${booking.id}/cancel`),
    ]);
    expect(answers.map((res) => res.status).sort()).to.deep.equal([202, 409]);
    await cancelled(patient, booking.id, FLOWS.undiscounted.length + 3);

    // The same envelope once more on the booking stream, as a redelivery would bring it.
    const row = await web.db
      .selectFrom('bus.outbox')
      .select('payload')
      .where(sql<string>`payload->>'type'`, '=', 'CancellationRequested')
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
          const payment = info.find((g) => g.name === 'payment');
          return (
            payment &&
            afterOrAt(String(payment['last-delivered-id']), entryId) &&
            Number(payment.pending) === 0
          );
        },
        { message: 'the payment group to handle the redelivered entry' },
      );
    } finally {
      redis.disconnect();
    }

    const trail = await auditTrail(admin, booking.correlationId);
    expect(trail.filter((entry) => entry.type === 'PaymentRefunded')).to.have.length(1);
    expect(trail.filter((entry) => entry.type === 'BookingCancelled')).to.have.length(1);
    const view = await bookingStatus(patient, booking.id);
    expect(eventTypes(view).filter((type) => type === 'PaymentRefunded')).to.have.length(1);
  });

  describe('in a real browser', function () {
    let server: { url: string; close(): Promise<void> };
    let browser: Browser;
    const screenshots = path.join(projectRoot, 'test/output/screenshots');

    before(async () => {
      mkdirSync(screenshots, { recursive: true });
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

    for (const width of [360, 1280]) {
      it(`cancels from the status page after a confirmation step, at ${width} px`, async () => {
        const user = buildUser();
        await createUser(web.db, user);
        const patient = clientOf(web.app);
        await patient.login(user);
        const booking = await confirmedBooking(patient, 52_500);
        const context = await browser.newContext({ viewport: { width, height: 900 } });
        const page = await context.newPage();
        const problems: string[] = [];
        page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
        page.on('pageerror', (error) => problems.push(error.message));
        try {
          await page.goto(`${server.url}/login?next=/bookings/${booking.id}`);
          await page.getByLabel('Email').fill(user.email);
          await page.getByLabel('Password').fill(user.password);
          await page.getByRole('button', { name: 'Log in' }).click();
          await page.waitForURL(`${server.url}/bookings/${booking.id}`);
          expect(await page.getByRole('status').innerText()).to.contain('Confirmed');
          expect(await page.getByRole('link', { name: 'View the receipt' }).isVisible()).to.equal(true);
          await axeClean(page);
          await page.screenshot({
            path: path.join(screenshots, `status-confirmed-${width}.png`),
            fullPage: true,
          });

          await page.getByRole('link', { name: 'Cancel booking' }).click();
          await page.waitForURL(`${server.url}/bookings/${booking.id}/cancel`);
          expect(await page.getByRole('heading', { level: 1 }).innerText()).to.equal(
            `Cancel booking ${booking.reference}?`,
          );
          expect(await page.locator('dl.facts').innerText()).to.contain('₹525.00');
          await axeClean(page);
          await page.screenshot({
            path: path.join(screenshots, `cancel-booking-${width}.png`),
            fullPage: true,
          });
          await page.getByLabel(/Reason/).fill('Feeling better');
          await page.getByRole('button', { name: 'Cancel booking' }).click();

          await page.waitForURL(`${server.url}/bookings/${booking.id}`);
          await page.getByRole('status').filter({ hasText: 'Cancelled' }).waitFor({ timeout: 20_000 });
          await page.getByRole('listitem').filter({ hasText: 'Booking cancelled' }).waitFor();
          expect(await page.getByRole('link', { name: 'Cancel booking' }).isVisible()).to.equal(false);
          expect(await page.getByText('Feeling better').count()).to.be.above(0);
          await axeClean(page);
          await page.screenshot({
            path: path.join(screenshots, `status-cancelled-${width}.png`),
            fullPage: true,
          });
          expect(problems).to.deep.equal([]);

          // Once cancelled, the page refuses a second cancel and says why.
          await page.goto(`${server.url}/bookings/${booking.id}/cancel`);
          expect(await page.getByText('Only a confirmed booking can be cancelled').count()).to.equal(1);
          expect(await page.getByRole('button', { name: 'Cancel booking' }).count()).to.equal(0);
        } finally {
          await context.close();
        }
      });
    }

    it('asks an admin for the reason before cancelling for a patient', async () => {
      const patient = await patientClient(web.app, web.db);
      const booking = await confirmedBooking(patient, 20_000);
      const credentials = {
        email: `admin-${Date.now()}@example.com`,
        password: 'admin password 123',
        name: 'Admin',
      };
      const { upsertAdmin } = await import('../../lib/identity/user-service.js');
      await upsertAdmin(web.db, credentials);
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      try {
        await page.goto(`${server.url}/login?next=/bookings/${booking.id}/cancel`);
        await page.getByLabel('Email').fill(credentials.email);
        await page.getByLabel('Password').fill(credentials.password);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.waitForURL(`${server.url}/bookings/${booking.id}/cancel`);
        await page.getByRole('button', { name: 'Cancel booking' }).click();
        await page.getByRole('alert').waitFor();
        expect(await page.getByRole('alert').innerText()).to.contain('Reason');
        await axeClean(page);
        await page.screenshot({
          path: path.join(screenshots, 'cancel-booking-admin-error-1280.png'),
          fullPage: true,
        });
        expect((await bookingStatus(patient, booking.id)).status).to.equal('CONFIRMED');
        await page.getByLabel(/Reason/).fill('Doctor unavailable');
        await page.getByRole('button', { name: 'Cancel booking' }).click();
        await page.waitForURL(`${server.url}/bookings/${booking.id}`);
        expect((await cancelled(patient, booking.id, FLOWS.undiscounted.length + 3)).reason).to.equal(
          'Doctor unavailable',
        );
      } finally {
        await context.close();
      }
    });
  });

  it('lets an admin cancel on the patient’s behalf with a reason, audited under the admin’s name', async () => {
    const patient = await patientClient(web.app, web.db);
    const booking = await confirmedBooking(patient, 25_000);
    const res = await admin.post(`/api/bookings/${booking.id}/cancel`, { reason: 'Doctor unavailable' });
    expect(res.status, res.text).to.equal(202);
    const done = await cancelled(patient, booking.id, FLOWS.undiscounted.length + 3);
    expect(done.reason).to.equal('Doctor unavailable');
    const me = await admin.get('/api/me').expect(200);
    const trail = await auditTrail(admin, booking.correlationId);
    const asked = trail.find((entry) => entry.type === 'CancellationRequested');
    expect(asked?.actor).to.equal(me.body.user.email);
    expect(asked?.data).to.include({ reason: 'Doctor unavailable', requestedBy: 'admin' });
  });
});

function afterOrAt(id: string, than: string): boolean {
  const [ms = 0, seq = 0] = id.split('-').map(Number);
  const [otherMs = 0, otherSeq = 0] = than.split('-').map(Number);
  return ms > otherMs || (ms === otherMs && seq >= otherSeq);
}
