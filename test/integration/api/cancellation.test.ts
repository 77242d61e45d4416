import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import supertest from 'supertest';
import { bookingHandlers, redriveStalledSagas } from '../../../lib/booking/booking-handlers.js';
import { manualClock } from '../../../lib/clock.js';
import type { TestApp } from '../../support/app.js';
import { expectError, rowCounts, startApiApp, trackWrites } from '../../support/api-helpers.js';
import { confirmedBooking, pricedBooking, type PaidBooking } from '../../support/confirmed-booking.js';
import { createService, loggedInAdmin, signedUpPatient } from '../../support/factories.js';
import type { Client } from '../../support/http.js';

describe('API: POST /api/bookings/:id/cancel', function () {
  this.timeout(30_000);
  // 12:00 IST on 1 December 2026: bookings below are made then; walk-ins may cancel until midnight IST.
  const clock = manualClock('2026-12-01T06:30:00Z');
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  let patient: { client: Client; user: { id: string; email: string } };
  let service: { id: string; name: string; pricePaise: number };
  const handlers = bookingHandlers({ afterMs: 60_000, limit: 1 });

  before(async () => {
    // The clock moves across a day here: sessions must outlive it (their own limits are tested elsewhere).
    testApp = await startApiApp({
      clock,
      env: { SESSION_IDLE_MINUTES: '2880', SESSION_ABSOLUTE_HOURS: '48' },
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

  /** A confirmed walk-in of the patient, booked at noon IST on 1 December 2026. */
  async function confirmed(): Promise<PaidBooking> {
    const booking = await confirmedBooking(testApp.db, handlers, {
      userId: patient.user.id,
      services: [service],
    });
    // Backdated by hand: the typed schema keeps created_at read-only, as the app must.
    await sql`UPDATE booking.bookings SET created_at = '2026-12-01T06:30:00Z' WHERE id = ${booking.id}`.execute(
      testApp.db,
    );
    return booking;
  }

  const cancel = (client: Client, id: string, body?: object, headers?: Record<string, string>) =>
    client.post(`/api/bookings/${id}/cancel`, body, headers);

  async function cancellationEvents(bookingId: string) {
    const rows = await testApp.db
      .selectFrom('bus.outbox')
      .select('payload')
      .where(sql<string>`payload->>'bookingId'`, '=', bookingId)
      .where(sql<string>`payload->>'type'`, '=', 'CancellationRequested')
      .execute();
    return rows.map((row) => row.payload as { data: Record<string, unknown>; correlationId: string });
  }

  it('accepts a patient’s cancel with 202 and starts the saga: CancellationRequested in the outbox', async () => {
    const booking = await confirmed();
    const res = await cancel(patient.client, booking.id, { reason: 'Feeling better' });
    expect(res.status, res.text).to.equal(202);
    expect(res.body.booking).to.include({
      id: booking.id,
      reference: booking.reference,
      correlationId: booking.correlationId,
    });
    const events = await cancellationEvents(booking.id);
    expect(events).to.have.length(1);
    expect(events[0]?.correlationId).to.equal(booking.correlationId);
    expect(events[0]?.data).to.deep.equal({
      reference: booking.reference,
      reason: 'Feeling better',
      requestedBy: 'patient',
      actor: patient.user.email,
    });
    const row = await testApp.db
      .selectFrom('booking.bookings')
      .select(['status', 'change'])
      .where('id', '=', booking.id)
      .executeTakeFirstOrThrow();
    expect(row).to.deep.equal({ status: 'CONFIRMED', change: 'cancelling' });
    const status = await patient.client.get(`/api/bookings/${booking.id}/status`).expect(200);
    expect(status.body.booking.events.map((e: { type: string }) => e.type)).to.include(
      'CancellationRequested',
    );
  });

  it('refuses a second cancel with 409 not_changeable; of two at once exactly one starts', async () => {
    const booking = await confirmed();
    const answers = await Promise.all([
      cancel(patient.client, booking.id),
      cancel(patient.client, booking.id),
    ]);
    expect(answers.map((res) => res.status).sort()).to.deep.equal([202, 409]);
    expectError(
      answers.find((res) => res.status === 409)!,
      409,
      'not_changeable',
    );
    expect(await cancellationEvents(booking.id)).to.have.length(1);
    expectError(await cancel(patient.client, booking.id), 409, 'not_changeable');
  });

  it('answers a retried request with the same Idempotency-Key with 202 again, starting one saga', async () => {
    const booking = await confirmed();
    const key = `cancel-${randomUUID()}`;
    const first = await cancel(patient.client, booking.id, {}, { 'Idempotency-Key': key });
    const retry = await cancel(patient.client, booking.id, {}, { 'Idempotency-Key': key });
    expect([first.status, retry.status]).to.deep.equal([202, 202]);
    expect(retry.body).to.deep.equal(first.body);
    expect(await cancellationEvents(booking.id)).to.have.length(1);
    expectError(
      await cancel(patient.client, booking.id, {}, { 'Idempotency-Key': 'another' }),
      409,
      'not_changeable',
    );
  });

  it('refuses a booking that is not confirmed with 409 not_changeable', async () => {
    const pending = await pricedBooking(testApp.db, handlers, {
      userId: patient.user.id,
      services: [service],
    });
    expectError(await cancel(patient.client, pending.id), 409, 'not_changeable');
    expect(await cancellationEvents(pending.id)).to.have.length(0);
  });

  it('lets a walk-in cancel until the end of its IST day: 23:59 yes, 00:01 too late', async () => {
    const early = await confirmed();
    const late = await confirmed();
    clock.set('2026-12-01T18:29:00Z'); // 23:59 IST
    expect((await cancel(patient.client, early.id)).status).to.equal(202);
    clock.set('2026-12-01T18:31:00Z'); // 00:01 IST the next day
    expectError(await cancel(patient.client, late.id), 409, 'too_late_to_change');
    expect(await cancellationEvents(late.id)).to.have.length(0);
  });

  it('answers 404 for another patient’s booking, a missing one and a malformed id, writing nothing', async () => {
    const booking = await confirmed();
    const other = await signedUpPatient(testApp.app);
    const before = await rowCounts(testApp.db);
    expectError(await cancel(other.client, booking.id), 404, 'not_found');
    expectError(await cancel(patient.client, randomUUID()), 404, 'not_found');
    for (const id of ['not-a-uuid', `${booking.id}0`]) {
      expectError(await cancel(patient.client, id), 404);
    }
    // A NUL byte in the address is refused before any route sees it.
    expectError(await cancel(patient.client, '%00'), 400, 'validation_failed');
    expect(await rowCounts(testApp.db)).to.deep.equal(before);
  });

  it('refuses bad bodies with 400 and the error shape, writing nothing', async () => {
    const booking = await confirmed();
    const before = await rowCounts(testApp.db);
    for (const body of [
      { reason: 42 },
      { reason: ['a', 'b'] },
      { reason: 'x'.repeat(501) },
      { reason: 'nul\u0000byte' },
      [],
    ]) {
      expectError(await cancel(patient.client, booking.id, body), 400, 'validation_failed');
    }
    const malformed = await patient.client.agent
      .post(`/api/bookings/${booking.id}/cancel`)
      .set('x-csrf-token', await patient.client.csrf())
      .set('content-type', 'application/json')
      .send('{"reason":');
    expectError(malformed, 400, 'malformed_json');
    expectError(await cancel(patient.client, booking.id, {}, { 'Idempotency-Key': 'k'.repeat(201) }), 400);
    expect(await rowCounts(testApp.db)).to.deep.equal(before);
  });

  it('lets an admin cancel for the patient only with a reason, naming the admin as the actor', async () => {
    const booking = await confirmed();
    const admin = await loggedInAdmin(testApp.app, testApp.db);
    expectError(await cancel(admin.client, booking.id, {}), 400, 'validation_failed');
    expectError(await cancel(admin.client, booking.id, { reason: '   ' }), 400, 'validation_failed');
    expect(await cancellationEvents(booking.id)).to.have.length(0);
    const res = await cancel(admin.client, booking.id, { reason: 'The doctor is unwell today' });
    expect(res.status, res.text).to.equal(202);
    const [event] = await cancellationEvents(booking.id);
    expect(event?.data).to.include({
      requestedBy: 'admin',
      actor: admin.user.email,
      reason: 'The doctor is unwell today',
    });
  });

  it('is re-driven from the database when its refund or release is never heard of (Redis lost it)', async () => {
    const booking = await confirmed();
    expect((await cancel(patient.client, booking.id)).status).to.equal(202);
    // Published, then lost: nothing comes back, so the row says when to ask again.
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
      .where(sql<string>`payload->>'type'`, '=', 'CancellationRequested')
      .executeTakeFirstOrThrow();
    expect(again.published_at).to.equal(null);
  });

  it('refuses anonymous visitors (401) and requests without a CSRF token (403)', async () => {
    const booking = await confirmed();
    const anonymous = supertest.agent(testApp.app);
    expectError(await anonymous.post(`/api/bookings/${booking.id}/cancel`).send({}), 403);
    const token = (await anonymous.get('/api/csrf-token')).body.token as string;
    expectError(
      await anonymous.post(`/api/bookings/${booking.id}/cancel`).set('x-csrf-token', token).send({}),
      401,
    );
    expect(await cancellationEvents(booking.id)).to.have.length(0);
  });
});
