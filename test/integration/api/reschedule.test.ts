import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import supertest from 'supertest';
import { bookingHandlers, redriveStalledSagas } from '../../../lib/booking/booking-handlers.js';
import { manualClock } from '../../../lib/clock.js';
import { followUp, parseEvent, type Event } from '../../../lib/events/catalogue.js';
import type { TestApp } from '../../support/app.js';
import { handle } from '../../support/handlers.js';
import { expectError, rowCounts, startApiApp, trackWrites } from '../../support/api-helpers.js';
import { confirmedBooking, pricedBooking, type PaidBooking } from '../../support/confirmed-booking.js';
import { createService, loggedInAdmin, signedUpPatient } from '../../support/factories.js';
import type { Client } from '../../support/http.js';

describe('API: POST /api/bookings/:id/reschedule', function () {
  this.timeout(30_000);
  // 12:00 IST on Tuesday 1 December 2026; the clinic is open 09:00–18:00 and changes close 120 minutes ahead.
  const clock = manualClock('2026-12-01T06:30:00Z');
  const TODAY_15_00 = { start: '2026-12-01T15:00:00+05:30', end: '2026-12-01T15:15:00+05:30' };
  const TOMORROW_10_00 = '2026-12-02T10:00:00+05:30';
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  let patient: { client: Client; user: { id: string; email: string } };
  let service: { id: string; name: string; pricePaise: number };
  const handlers = bookingHandlers({ afterMs: 60_000, limit: 1 });

  before(async () => {
    testApp = await startApiApp({
      clock,
      env: { SESSION_IDLE_MINUTES: '2880', SESSION_ABSOLUTE_HOURS: '48', CANCELLATION_CUTOFF_MINUTES: '120' },
    });
    cleanUp = await trackWrites(testApp.db);
    patient = await signedUpPatient(testApp.app);
    service = await createService(testApp.db, { pricePaise: 65_000 });
  });
  after(async () => {
    await cleanUp?.();
    await testApp?.close();
  });
  beforeEach(() => clock.set('2026-12-01T06:30:00Z'));

  /** A confirmed booking of the patient, at 15:00 IST today unless it is a walk-in. */
  async function confirmed(
    appointment: { start: string; end: string } | null = TODAY_15_00,
  ): Promise<PaidBooking> {
    const booking = await confirmedBooking(testApp.db, handlers, {
      userId: patient.user.id,
      services: [service],
    });
    // The slot as the scheduling step would have settled it; backdated by hand (created_at is read-only).
    await sql`UPDATE booking.bookings
      SET created_at = '2026-12-01T06:30:00Z',
          slot_start = ${appointment?.start ?? null}::timestamptz,
          slot_end = ${appointment?.end ?? null}::timestamptz,
          slot_outcome = ${appointment ? 'reserved' : 'skipped'}
      WHERE id = ${booking.id}`.execute(testApp.db);
    return booking;
  }

  const reschedule = (client: Client, id: string, body?: object, headers?: Record<string, string>) =>
    client.post(`/api/bookings/${id}/reschedule`, body, headers);

  async function rescheduleEvents(bookingId: string) {
    const rows = await testApp.db
      .selectFrom('bus.outbox')
      .select('payload')
      .where(sql<string>`payload->>'bookingId'`, '=', bookingId)
      .where(sql<string>`payload->>'type'`, '=', 'RescheduleRequested')
      .execute();
    return rows.map((row) => row.payload as { data: Record<string, unknown>; correlationId: string });
  }

  async function changeOf(bookingId: string) {
    return testApp.db
      .selectFrom('booking.bookings')
      .select(['status', 'change', 'change_slot_start', 'slot_start'])
      .where('id', '=', bookingId)
      .executeTakeFirstOrThrow();
  }

  it('accepts a reschedule with 202 and starts it: RescheduleRequested in the outbox, the booking keeps its slot meanwhile', async () => {
    const booking = await confirmed();
    const res = await reschedule(patient.client, booking.id, { slotStart: TOMORROW_10_00 });
    expect(res.status, res.text).to.equal(202);
    expect(res.body.booking).to.include({
      id: booking.id,
      reference: booking.reference,
      status: 'CONFIRMED',
    });
    const events = await rescheduleEvents(booking.id);
    expect(events).to.have.length(1);
    expect(events[0]?.correlationId).to.equal(booking.correlationId);
    expect(events[0]?.data).to.deep.equal({
      reference: booking.reference,
      slotStart: TOMORROW_10_00,
      previousSlotStart: TODAY_15_00.start,
      reason: null,
      requestedBy: 'patient',
      actor: patient.user.email,
    });
    const row = await changeOf(booking.id);
    expect(row.status).to.equal('CONFIRMED');
    expect(row.change).to.equal('rescheduling');
    expect(row.change_slot_start?.toISOString()).to.equal(new Date(TOMORROW_10_00).toISOString());
    expect(row.slot_start?.toISOString()).to.equal(new Date(TODAY_15_00.start).toISOString());
    const status = await patient.client.get(`/api/bookings/${booking.id}/status`).expect(200);
    expect(status.body.booking.change).to.equal('rescheduling');
    expect(status.body.booking.rescheduleTo).to.equal(TOMORROW_10_00);
    expect(status.body.booking.events.map((e: { type: string }) => e.type)).to.include('RescheduleRequested');
  });

  it('applies the cutoff to the current appointment: 121 minutes before yes, 119 minutes before too late', async () => {
    const early = await confirmed();
    const late = await confirmed();
    clock.set('2026-12-01T07:29:00Z'); // 12:59 IST, 121 minutes before 15:00
    expect((await reschedule(patient.client, early.id, { slotStart: TOMORROW_10_00 })).status).to.equal(202);
    clock.set('2026-12-01T07:31:00Z'); // 13:01 IST
    expectError(
      await reschedule(patient.client, late.id, { slotStart: TOMORROW_10_00 }),
      409,
      'too_late_to_change',
    );
    expect(await rescheduleEvents(late.id)).to.have.length(0);
  });

  it('gives a walk-in a time until the end of its IST day', async () => {
    const walkIn = await confirmed(null);
    const tooLate = await confirmed(null);
    const res = await reschedule(patient.client, walkIn.id, { slotStart: TOMORROW_10_00 });
    expect(res.status, res.text).to.equal(202);
    const [asked] = await rescheduleEvents(walkIn.id);
    expect(asked?.data).to.include({ previousSlotStart: null });
    // No old place to give back: the new one's reservation alone moves the booking.
    const reserved = followUp(parseEvent(asked) as Event<'RescheduleRequested'>, 'SlotReserved', {
      slotStart: TOMORROW_10_00,
      slotEnd: '2026-12-02T10:15:00+05:30',
      scheduleVersion: 1,
      cause: 'reschedule',
      previousSlotStart: null,
    });
    const emitted = await handle(testApp.db, handlers, reserved);
    expect(
      emitted.map((event) => [event.type, (event.data as { previous?: unknown }).previous]),
    ).to.deep.equal([['BookingRescheduled', null]]);
    expect(await changeOf(walkIn.id)).to.deep.include({
      change: null,
      slot_start: new Date(TOMORROW_10_00),
    });
    clock.set('2026-12-01T18:31:00Z'); // 00:01 IST the next day
    expectError(
      await reschedule(patient.client, tooLate.id, { slotStart: TOMORROW_10_00 }),
      409,
      'too_late_to_change',
    );
  });

  it('refuses a second change while one is under way: of two reschedules at once exactly one starts; a cancel is refused too', async () => {
    const booking = await confirmed();
    const answers = await Promise.all([
      reschedule(patient.client, booking.id, { slotStart: TOMORROW_10_00 }),
      reschedule(patient.client, booking.id, { slotStart: '2026-12-02T11:00:00+05:30' }),
    ]);
    expect(answers.map((res) => res.status).sort()).to.deep.equal([202, 409]);
    expectError(
      answers.find((res) => res.status === 409)!,
      409,
      'not_changeable',
    );
    expect(await rescheduleEvents(booking.id)).to.have.length(1);
    expectError(await patient.client.post(`/api/bookings/${booking.id}/cancel`, {}), 409, 'not_changeable');
  });

  it('of a cancel and a reschedule at once exactly one starts', async () => {
    const booking = await confirmed();
    const [moved, cancelled] = await Promise.all([
      reschedule(patient.client, booking.id, { slotStart: TOMORROW_10_00 }),
      patient.client.post(`/api/bookings/${booking.id}/cancel`, {}),
    ]);
    expect([moved.status, cancelled.status].sort()).to.deep.equal([202, 409]);
    const row = await changeOf(booking.id);
    expect(row.change).to.equal(moved.status === 202 ? 'rescheduling' : 'cancelling');
    expectError(
      await reschedule(patient.client, booking.id, { slotStart: TOMORROW_10_00 }),
      409,
      'not_changeable',
    );
  });

  it('answers a retried request with the same Idempotency-Key with 202 again, starting one reschedule', async () => {
    const booking = await confirmed();
    const key = `move-${randomUUID()}`;
    const first = await reschedule(
      patient.client,
      booking.id,
      { slotStart: TOMORROW_10_00 },
      { 'Idempotency-Key': key },
    );
    const retry = await reschedule(
      patient.client,
      booking.id,
      { slotStart: TOMORROW_10_00 },
      { 'Idempotency-Key': key },
    );
    expect([first.status, retry.status]).to.deep.equal([202, 202]);
    expect(retry.body).to.deep.equal(first.body);
    expect(await rescheduleEvents(booking.id)).to.have.length(1);
  });

  it('refuses a booking that is not confirmed, or is cancelled, with 409 not_changeable', async () => {
    const pending = await pricedBooking(testApp.db, handlers, {
      userId: patient.user.id,
      services: [service],
    });
    expectError(
      await reschedule(patient.client, pending.id, { slotStart: TOMORROW_10_00 }),
      409,
      'not_changeable',
    );
    const cancelled = await confirmed();
    await sql`UPDATE booking.bookings SET status = 'CANCELLED' WHERE id = ${cancelled.id}`.execute(
      testApp.db,
    );
    expectError(
      await reschedule(patient.client, cancelled.id, { slotStart: TOMORROW_10_00 }),
      409,
      'not_changeable',
    );
    expect(await rescheduleEvents(pending.id)).to.have.length(0);
    expect(await rescheduleEvents(cancelled.id)).to.have.length(0);
  });

  it('answers 404 for another patient’s booking, a missing one and a malformed id, writing nothing', async () => {
    const booking = await confirmed();
    const other = await signedUpPatient(testApp.app);
    const before = await rowCounts(testApp.db);
    const body = { slotStart: TOMORROW_10_00 };
    expectError(await reschedule(other.client, booking.id, body), 404, 'not_found');
    expectError(await reschedule(patient.client, randomUUID(), body), 404, 'not_found');
    expectError(await reschedule(patient.client, 'not-a-uuid', body), 404);
    expect(await rowCounts(testApp.db)).to.deep.equal(before);
  });

  it('refuses a time that is not an offered slot start with 4xx, as a booking does, writing nothing', async () => {
    const booking = await confirmed();
    const before = await rowCounts(testApp.db);
    const unprocessable = [
      '2026-12-02T10:05:00+05:30', // not a slot's start
      '2026-12-06T10:00:00+05:30', // a Sunday: closed
      '2026-12-01T12:30:00+05:30', // within the hour
      '2026-11-30T10:00:00+05:30', // past
      '2028-02-01T10:00:00+05:30', // beyond the booking horizon
      TODAY_15_00.start, // where it is already
    ];
    for (const slotStart of unprocessable) {
      expectError(await reschedule(patient.client, booking.id, { slotStart }), 422, 'validation_failed');
    }
    for (const body of [
      {},
      { slotStart: 'tomorrow' },
      { slotStart: 42 },
      { slotStart: [TOMORROW_10_00, TOMORROW_10_00] },
      { slotStart: TOMORROW_10_00, reason: 'x'.repeat(501) },
      { slotStart: TOMORROW_10_00, reason: 'nul\u0000byte' },
      [],
    ]) {
      expectError(await reschedule(patient.client, booking.id, body), 400, 'validation_failed');
    }
    expect(await rowCounts(testApp.db)).to.deep.equal(before);
    expect((await changeOf(booking.id)).change).to.equal(null);
  });

  it('lets an admin reschedule for the patient only with a reason, naming the admin as the actor', async () => {
    const booking = await confirmed();
    const admin = await loggedInAdmin(testApp.app, testApp.db);
    expectError(
      await reschedule(admin.client, booking.id, { slotStart: TOMORROW_10_00 }),
      400,
      'validation_failed',
    );
    expect(await rescheduleEvents(booking.id)).to.have.length(0);
    const res = await reschedule(admin.client, booking.id, {
      slotStart: TOMORROW_10_00,
      reason: 'The doctor is away that afternoon',
    });
    expect(res.status, res.text).to.equal(202);
    const [event] = await rescheduleEvents(booking.id);
    expect(event?.data).to.include({
      requestedBy: 'admin',
      actor: admin.user.email,
      reason: 'The doctor is away that afternoon',
    });
  });

  it('is re-driven from the database when the slot decision is never heard of (Redis lost it)', async () => {
    const booking = await confirmed();
    expect((await reschedule(patient.client, booking.id, { slotStart: TOMORROW_10_00 })).status).to.equal(
      202,
    );
    await testApp.db
      .updateTable('bus.outbox')
      .set({ published_at: new Date() })
      .where(sql<string>`payload->>'bookingId'`, '=', booking.id)
      .execute();
    const row = await testApp.db
      .selectFrom('booking.bookings')
      .select('redrive_at')
      .where('id', '=', booking.id)
      .executeTakeFirstOrThrow();
    expect(row.redrive_at).to.be.an.instanceOf(Date);
    await redriveStalledSagas(testApp.db, new Date((row.redrive_at as Date).getTime() + 1), {
      afterMs: 30_000,
      limit: 5,
    });
    const again = await testApp.db
      .selectFrom('bus.outbox')
      .select('published_at')
      .where(sql<string>`payload->>'bookingId'`, '=', booking.id)
      .where(sql<string>`payload->>'type'`, '=', 'RescheduleRequested')
      .executeTakeFirstOrThrow();
    expect(again.published_at).to.equal(null);
  });

  for (const order of ['reservation first', 'release first'] as const) {
    it(`moves the booking once its new place is reserved and its old one released (${order}), once; stale answers change nothing`, async () => {
      const booking = await confirmed();
      expect((await reschedule(patient.client, booking.id, { slotStart: TOMORROW_10_00 })).status).to.equal(
        202,
      );
      const [asked] = await rescheduleEvents(booking.id);
      const request = parseEvent(asked) as Event<'RescheduleRequested'>;
      const reserved = followUp(request, 'SlotReserved', {
        slotStart: TOMORROW_10_00,
        slotEnd: '2026-12-02T10:15:00+05:30',
        scheduleVersion: 1,
        cause: 'reschedule',
        previousSlotStart: TODAY_15_00.start,
      });
      const oldReleased = followUp(request, 'SlotReleased', {
        slotStart: TODAY_15_00.start,
        cause: 'reschedule',
      });
      const [first, second] =
        order === 'reservation first' ? [reserved, oldReleased] : [oldReleased, reserved];
      // One answer alone settles nothing: the booking keeps its time and is still moving.
      expect(await handle(testApp.db, handlers, first)).to.deep.equal([]);
      expect(await changeOf(booking.id)).to.deep.include({
        change: 'rescheduling',
        slot_start: new Date(TODAY_15_00.start),
      });
      const who = await testApp.db
        .selectFrom('booking.bookings')
        .select(['patient_name', 'patient_email'])
        .where('id', '=', booking.id)
        .executeTakeFirstOrThrow();
      const emitted = await handle(testApp.db, handlers, second);
      expect(emitted.map((event) => [event.type, event.data])).to.deep.equal([
        [
          'BookingRescheduled',
          {
            reference: booking.reference,
            previous: TODAY_15_00,
            appointment: { start: TOMORROW_10_00, end: '2026-12-02T10:15:00+05:30' },
            reason: null,
            patient: { name: who.patient_name, email: who.patient_email },
            inviteSequence: 1,
          },
        ],
      ]);
      expect(await handle(testApp.db, handlers, reserved)).to.deep.equal([]);
      expect(await handle(testApp.db, handlers, oldReleased)).to.deep.equal([]);
      const stale = followUp(request, 'RescheduleRejected', { slotStart: TOMORROW_10_00, reason: 'full' });
      expect(await handle(testApp.db, handlers, stale)).to.deep.equal([]);
      const row = await testApp.db
        .selectFrom('booking.bookings')
        .select([
          'status',
          'change',
          'change_slot_start',
          'change_slot_end',
          'slot_start',
          'slot_end',
          'slot_outcome',
          'slot_released',
          'invite_sequence',
          'redrive_at',
        ])
        .where('id', '=', booking.id)
        .executeTakeFirstOrThrow();
      expect(row).to.deep.equal({
        status: 'CONFIRMED',
        change: null,
        change_slot_start: null,
        change_slot_end: null,
        slot_start: new Date(TOMORROW_10_00),
        slot_end: new Date('2026-12-02T10:15:00+05:30'),
        slot_outcome: 'reserved',
        slot_released: false,
        invite_sequence: 1,
        redrive_at: null,
      });
      const view = await patient.client.get(`/api/bookings/${booking.id}/status`).expect(200);
      expect(view.body.booking.appointment).to.deep.equal({
        start: TOMORROW_10_00,
        end: '2026-12-02T10:15:00+05:30',
      });
      // Each step once, the stale rejection not among them; the move's outcome is last.
      const types = (view.body.booking.events as { type: string }[]).map((e) => e.type);
      // The booking was a walk-in on its timeline (SlotSkipped): the one SlotReserved is the new place.
      expect(
        types.filter(
          (type) => type.includes('Reschedul') || type === 'SlotReleased' || type === 'SlotReserved',
        ),
      ).to.deep.equal(['RescheduleRequested', 'SlotReserved', 'SlotReleased', 'BookingRescheduled']);
      // Free to change again.
      expect(
        (await reschedule(patient.client, booking.id, { slotStart: '2026-12-02T11:00:00+05:30' })).status,
      ).to.equal(202);
    });
  }

  it('keeps the booking’s time when the new slot is full, and lets it be changed again', async () => {
    const booking = await confirmed();
    expect((await reschedule(patient.client, booking.id, { slotStart: TOMORROW_10_00 })).status).to.equal(
      202,
    );
    const request = parseEvent((await rescheduleEvents(booking.id))[0]) as Event<'RescheduleRequested'>;
    const rejected = followUp(request, 'RescheduleRejected', { slotStart: TOMORROW_10_00, reason: 'full' });
    expect(await handle(testApp.db, handlers, rejected)).to.deep.equal([]);
    const row = await changeOf(booking.id);
    expect(row).to.deep.include({ status: 'CONFIRMED', change: null, change_slot_start: null });
    expect(row.slot_start?.toISOString()).to.equal(new Date(TODAY_15_00.start).toISOString());
    expect((await patient.client.post(`/api/bookings/${booking.id}/cancel`, {})).status).to.equal(202);
  });

  describe('the reschedule page', () => {
    const page = (id: string, query = '') => patient.client.get(`/bookings/${id}/reschedule${query}`);
    const submit = async (id: string, form: Record<string, string>) =>
      patient.client.agent
        .post(`/bookings/${id}/reschedule`)
        .type('form')
        .set('x-csrf-token', await patient.client.csrf())
        .send(form);

    it('offers the next days’ times as radios labelled in IST, the current time not among the choices', async () => {
      const booking = await confirmed();
      const today = await page(booking.id).expect(200);
      expect(today.headers['cache-control']).to.contain('no-store');
      expect(today.text).to.contain(`Reschedule booking ${booking.reference}`);
      expect(today.text).to.contain('1 Dec 2026, 15:00–15:15 IST');
      // 15:00 today is the booking's own; 12:45 is less than an hour away; 13:00 is free.
      const radio = (id: string) =>
        new RegExp(`<input type="radio" id="slot-picker-${id}" name="slotStart" value="[^"]+"( disabled)?>`);
      expect(today.text.match(radio('2026-12-01-1500'))?.[1]).to.equal(' disabled');
      expect(today.text).to.match(
        /<label for="slot-picker-2026-12-01-1500">15:00 <span class="slot__note">current<\/span>/,
      );
      expect(today.text.match(radio('2026-12-01-1245'))?.[1]).to.equal(' disabled');
      expect(today.text.match(radio('2026-12-01-1300'))?.[1]).to.equal(undefined);
      expect(today.text).to.contain('value="2026-12-02T10:00:00+05:30"');
      expect(today.text).to.contain('href="/bookings/' + booking.id + '/reschedule?day=2026-12-02');
      // The day asked for is the one shown; a day not offered (or not a day) shows the first with a free time.
      const shown = (html: string) =>
        /<fieldset class="slot-times" id="slot-picker-([\d-]+)" data-day="[\d-]+" tabindex="-1">/.exec(
          html,
        )?.[1];
      expect(shown((await page(booking.id, '?day=2026-12-02').expect(200)).text)).to.equal('2026-12-02');
      for (const day of ['2027-01-01', 'garbage', '']) {
        expect(shown((await page(booking.id, `?day=${day}`).expect(200)).text)).to.equal('2026-12-01');
      }
    });

    it('shows the form again with its message for a missing or unbookable time, changing nothing', async () => {
      const booking = await confirmed();
      const before = await rowCounts(testApp.db);
      const missing = await submit(booking.id, { reason: 'Clash at work' });
      expect(missing.status).to.equal(400);
      expect(missing.text).to.contain('There is a problem').and.to.contain('href="#slot-picker"');
      expect(missing.text).to.contain('Clash at work');
      const closed = await submit(booking.id, { slotStart: '2026-12-06T10:00:00+05:30' });
      expect(closed.status).to.equal(422);
      expect(closed.text).to.contain('the clinic is closed that day');
      expect(await rowCounts(testApp.db)).to.deep.equal(before);
    });

    it('starts the move and sends the patient to the status page, which follows it', async () => {
      const booking = await confirmed();
      const res = await submit(booking.id, { slotStart: TOMORROW_10_00 });
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.equal(`/bookings/${booking.id}`);
      expect(await rescheduleEvents(booking.id)).to.have.length(1);
      const status = await patient.client.get(`/bookings/${booking.id}`).expect(200);
      expect(status.text).to.contain('We are moving your visit to 2 Dec 2026, 10:00 IST');
      expect(status.text).to.match(/class="button secondary reschedule-link"[^>]* hidden>Reschedule/);
      const again = await page(booking.id).expect(409);
      expect(again.text).to.contain('This booking is being moved already.');
    });

    it('shows the Reschedule link beside Cancel booking on a booking that can still change', async () => {
      const booking = await confirmed();
      const status = await patient.client.get(`/bookings/${booking.id}`).expect(200);
      expect(status.text).to.match(
        new RegExp(
          `<a class="button secondary reschedule-link" href="/bookings/${booking.id}/reschedule">Reschedule</a>`,
        ),
      );
      clock.set('2026-12-01T07:31:00Z'); // past the cutoff
      const late = await patient.client.get(`/bookings/${booking.id}`).expect(200);
      expect(late.text).to.match(/reschedule-link"[^>]* hidden>Reschedule/);
      expect((await page(booking.id).expect(409)).text).to.contain('It is too late to reschedule');
    });
  });

  it('refuses anonymous visitors (401) and requests without a CSRF token (403)', async () => {
    const booking = await confirmed();
    const anonymous = supertest.agent(testApp.app);
    const url = `/api/bookings/${booking.id}/reschedule`;
    expectError(await anonymous.post(url).send({ slotStart: TOMORROW_10_00 }), 403);
    const token = (await anonymous.get('/api/csrf-token')).body.token as string;
    expectError(
      await anonymous.post(url).set('x-csrf-token', token).send({ slotStart: TOMORROW_10_00 }),
      401,
    );
    expect(await rescheduleEvents(booking.id)).to.have.length(0);
  });
});
