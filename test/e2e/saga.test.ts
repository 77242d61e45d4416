import { expect } from 'chai';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { DEADLINE_REASON } from '../../lib/booking/booking-saga.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { buildUser, createService } from '../support/factories.js';
import type { Client } from '../support/http.js';
import {
  FLOWS,
  QUOTA_REACHED,
  adminClient,
  auditTrail,
  birthdayPatient,
  book,
  bookingStatus,
  changeConfig,
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

// Each worker process costs seconds to start here: one system serves the whole file, and a test that
// needs a worker configured otherwise restarts just that one (SagaSystem.ensureEnv).
const FAST_PAYMENT = { PAYMENT_DELAY_MS: '100' };
const SLOW_PAYMENT = { PAYMENT_DELAY_MS: '3000' };

describe('booking saga end to end (the Procfile processes)', function () {
  this.timeout(30_000);
  let system: SagaSystem;
  let web: TestApp;
  let admin: Client;

  before(async function () {
    this.timeout(90_000);
    // Most requests go to the in-process app (the same createApp and outbox relay the web process
    // runs); one test goes through the spawned web process.
    const [started, app] = await Promise.allSettled([
      SagaSystem.start({
        env: { SAGA_SWEEP_INTERVAL_MS: '100', ...FAST_PAYMENT },
        envFor: { web: { SIGNUP_RATE_LIMIT: '1000' } },
      }),
      startTestApp({ relay: true }),
    ]);
    // Keep what did start, so that `after` closes it even when the other failed.
    if (started.status === 'fulfilled') system = started.value;
    if (app.status === 'fulfilled') web = app.value;
    if (started.status === 'rejected') throw started.reason;
    if (app.status === 'rejected') throw app.reason;
    admin = await adminClient(web.app, web.db);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') system?.dump();
    // A test that failed between killing a worker and starting it again must not take the next ones down.
    for (const name of workerNames()) if (system && !system.isRunning(name)) await system.launch(name);
  });

  after(async function () {
    this.timeout(60_000);
    try {
      await web?.close();
    } finally {
      await system?.stop();
    }
  });

  async function payment(bookingId: string) {
    return web.db.selectFrom('payment.payments').selectAll().where('booking_id', '=', bookingId).execute();
  }

  describe('when payments succeed', () => {
    it('confirms a booking above ₹1,000 with 12% off (rounded half up), every step audited under one correlation id', async () => {
      await ensureQuotaRoom(admin, web.db, 5);
      const patient = await patientClient(web.app, web.db);
      const consult = await createService(web.db, { pricePaise: 60_000 });
      const scan = await createService(web.db, { pricePaise: 63_457 });

      const accepted = await book(patient, [consult.id, scan.id]);
      expect(accepted.status).to.equal('PENDING');
      const booking = await settled(patient, accepted.id, { events: FLOWS.discounted.length });

      expect(eventTypes(booking)).to.deep.equal(FLOWS.discounted);
      expect(booking.status).to.equal('CONFIRMED');
      expect(booking.reason).to.equal(null);
      // 123457 × 12 / 100 = 14814.84 → 14815 paise.
      expect(booking.pricing).to.deep.equal({
        basePaise: 123_457,
        discountPercent: 12,
        discountPaise: 14_815,
        finalPaise: 108_642,
        discountApplied: true,
      });
      expect(booking.services.map((line) => line.pricePaise)).to.deep.equal([60_000, 63_457]);

      const trail = await waitFor(
        async () => {
          const entries = await auditTrail(admin, booking.correlationId);
          return entries.length >= FLOWS.discounted.length ? entries : null;
        },
        { timeoutMs: 10_000, message: 'the audit log to hold the saga' },
      );
      expect(trail.map((entry) => entry.type).sort()).to.deep.equal([...FLOWS.discounted].sort());
      for (const entry of trail) {
        expect(entry.correlationId).to.equal(booking.correlationId);
        expect(entry.bookingId).to.equal(booking.id);
      }

      const [charge] = await payment(booking.id);
      expect(charge).to.include({ status: 'COMPLETED', amount_paise: 108_642 });
      await waitFor(
        () =>
          system.logged('confirmation', 'confirmation sent', { reference: booking.reference }).length === 1,
        {
          message: 'the confirmation to be sent',
        },
      );
      const [sent] = system.logged('confirmation', 'confirmation sent', { reference: booking.reference });
      expect(sent?.correlationId).to.equal(booking.correlationId);
    });

    it('gives a female patient the discount on her birthday (today in IST) below ₹1,000', async () => {
      await ensureQuotaRoom(admin, web.db, 5);
      const patient = await patientClient(web.app, web.db);
      const test = await createService(web.db, { pricePaise: 50_000 });

      const { id } = await book(patient, [test.id], birthdayPatient());
      const booking = await settled(patient, id, { events: FLOWS.discounted.length });

      expect(eventTypes(booking)).to.deep.equal(FLOWS.discounted);
      expect(booking.status).to.equal('CONFIRMED');
      expect(booking.pricing).to.include({
        basePaise: 50_000,
        discountPaise: 6_000,
        finalPaise: 44_000,
        discountApplied: true,
      });
    });

    it('gives no discount at exactly ₹1,000.00 and skips the quota', async () => {
      await ensureQuotaRoom(admin, web.db, 5);
      const patient = await patientClient(web.app, web.db);
      const test = await createService(web.db, { pricePaise: 100_000 });
      const before = await quotaToday(admin);

      const { id } = await book(patient, [test.id]);
      const booking = await settled(patient, id, { events: FLOWS.undiscounted.length });

      expect(eventTypes(booking)).to.deep.equal(FLOWS.undiscounted);
      expect(booking.status).to.equal('CONFIRMED');
      expect(booking.pricing).to.include({
        basePaise: 100_000,
        discountPaise: 0,
        finalPaise: 100_000,
        discountApplied: false,
      });
      expect((await quotaToday(admin)).used).to.equal(before.used);
      const [charge] = await payment(id);
      expect(charge).to.include({ status: 'COMPLETED', amount_paise: 100_000 });
    });

    it("prices with an admin's new percent once it is applied: 12.5% of ₹1,000.04 is ₹125.01 (half up)", async () => {
      await ensureQuotaRoom(admin, web.db, 5);
      const patient = await patientClient(web.app, web.db);
      const test = await createService(web.db, { pricePaise: 100_004 });
      await changeConfig(admin, web.db, { discountPercent: 12.5 });
      try {
        const { id } = await book(patient, [test.id]);
        const booking = await settled(patient, id, { events: FLOWS.discounted.length });
        expect(eventTypes(booking)).to.deep.equal(FLOWS.discounted);
        expect(booking.pricing).to.deep.equal({
          basePaise: 100_004,
          discountPercent: 12.5,
          discountPaise: 12_501,
          finalPaise: 87_503,
          discountApplied: true,
        });
      } finally {
        await changeConfig(admin, web.db, { discountPercent: 12 });
      }
    });

    it('runs a booking through the spawned web process (the Procfile web line)', async () => {
      const url = system.url as string;
      const ready = await clientOf(url).get('/readyz');
      expect(ready.status).to.equal(200);
      expect(ready.body).to.deep.include({ status: 'ready' });

      const test = await createService(web.db, { pricePaise: 40_000 });
      const patient = clientOf(url);
      await patient.signup(buildUser());
      const { id } = await book(patient, [test.id]);
      const booking = await settled(patient, id, { events: FLOWS.undiscounted.length });

      expect(eventTypes(booking)).to.deep.equal(FLOWS.undiscounted);
      expect(booking.status).to.equal('CONFIRMED');
      expect(booking.pricing).to.include({ finalPaise: 40_000 });

      // Every worker's bus counters reach the web's /metrics (flushed to Redis once a second).
      const counted = (text: string, group: string, type: string) =>
        Number(
          text
            .split('\n')
            .find((line) =>
              line.startsWith(`clinic_bus_events_handled_total{group="${group}",type="${type}"}`),
            )
            ?.split(' ')
            .pop() ?? 0,
        );
      await waitFor(
        async () => {
          const { text } = await clientOf(url).get('/metrics');
          return (
            counted(text, 'scheduling', 'BookingRequested') >= 1 &&
            counted(text, 'pricing', 'SlotSkipped') >= 1 &&
            counted(text, 'payment', 'DiscountQuotaSkipped') >= 1 &&
            counted(text, 'confirmation', 'BookingConfirmed') >= 1
          );
        },
        { timeoutMs: 5_000, message: 'bus counters of the workers on /metrics' },
      );
    });

    it('keeps one booking and one saga for a repeated Idempotency-Key', async () => {
      const patient = await patientClient(web.app, web.db);
      const test = await createService(web.db, { pricePaise: 30_000 });
      const person = ordinaryPatient();
      const key = { 'Idempotency-Key': `e2e-${Date.now()}` };

      // Twice at once (the insert race), then once more after the saga has finished.
      const [first, second] = await Promise.all([
        book(patient, [test.id], person, key),
        book(patient, [test.id], person, key),
      ]);
      expect(second.id).to.equal(first.id);
      const booking = await settled(patient, first.id, { events: FLOWS.undiscounted.length });
      const third = await book(patient, [test.id], person, key);
      expect(third).to.deep.include({
        id: first.id,
        correlationId: first.correlationId,
        status: 'CONFIRMED',
      });

      expect(eventTypes(booking)).to.deep.equal(FLOWS.undiscounted);
      const mine = await patient.get('/api/bookings');
      expect(mine.body.bookings.map((b: BookingView) => b.id)).to.deep.equal([first.id]);
      const trail = await waitFor(
        async () => {
          const entries = await auditTrail(admin, first.correlationId);
          return entries.some((entry) => entry.type === 'BookingConfirmed') ? entries : null;
        },
        { message: 'the audit log to hold the saga' },
      );
      expect(trail.filter((entry) => entry.type === 'BookingRequested')).to.have.length(1);
      expect(await payment(first.id)).to.have.length(1);
    });

    it('sends one confirmation when BookingConfirmed is delivered twice', async () => {
      const patient = await patientClient(web.app, web.db);
      const test = await createService(web.db, { pricePaise: 20_000 });
      const { id } = await book(patient, [test.id]);
      const booking = await settled(patient, id, { events: FLOWS.undiscounted.length });
      expect(booking.status).to.equal('CONFIRMED');
      await waitFor(
        () =>
          system.logged('confirmation', 'confirmation sent', { reference: booking.reference }).length === 1,
        {
          message: 'the first confirmation',
        },
      );

      // The same envelope (same eventId) once more on the booking stream, as a redelivery would bring it.
      const row = await web.db
        .selectFrom('bus.outbox')
        .select('payload')
        .where(sql<string>`payload->>'type'`, '=', 'BookingConfirmed')
        .where(sql<string>`payload->>'bookingId'`, '=', id)
        .executeTakeFirstOrThrow();
      const envelope = row.payload as { eventId: string; type: string };
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
            const group = info.find((g) => g.name === 'confirmation');
            return (
              group && afterOrAt(String(group['last-delivered-id']), entryId) && Number(group.pending) === 0
            );
          },
          { message: 'the confirmation group to handle the redelivered entry' },
        );
      } finally {
        redis.disconnect();
      }

      const rows = await web.db
        .selectFrom('confirmation.confirmations')
        .selectAll()
        .where('booking_id', '=', id)
        .execute();
      expect(rows).to.have.length(1);
      expect(
        system.logged('confirmation', 'confirmation sent', { reference: booking.reference }),
      ).to.have.length(1);
    });
  });

  describe('the daily discount quota', () => {
    it('rejects a discount-eligible booking once the day is used up, and still books one without a discount', async () => {
      const patient = await patientClient(web.app, web.db);
      const expensive = await createService(web.db, { pricePaise: 150_000 });
      const cheap = await createService(web.db, { pricePaise: 10_000 });
      const before = await quotaToday(admin);
      await changeConfig(admin, web.db, { dailyDiscountQuota: before.used });
      try {
        expect(await quotaToday(admin)).to.include({ used: before.used, limit: before.used });

        const rejected = await book(patient, [expensive.id]);
        const undiscounted = await book(patient, [cheap.id]);
        const booking = await settled(patient, rejected.id, { events: FLOWS.quotaExhausted.length });
        expect(eventTypes(booking)).to.deep.equal(FLOWS.quotaExhausted);
        expect(booking.status).to.equal('REJECTED');
        expect(booking.reason).to.equal(QUOTA_REACHED);
        expect(booking.pricing).to.include({
          basePaise: 150_000,
          discountPaise: 0,
          finalPaise: 150_000,
          discountApplied: false,
        });
        expect(await payment(rejected.id)).to.deep.equal([]);

        const other = await settled(patient, undiscounted.id, { events: FLOWS.undiscounted.length });
        expect(eventTypes(other)).to.deep.equal(FLOWS.undiscounted);
        expect(other.status).to.equal('CONFIRMED');
        expect((await quotaToday(admin)).used).to.equal(before.used);
      } finally {
        await ensureQuotaRoom(admin, web.db, 100);
      }
    });

    it('reserves exactly the 10 free slots when 50 eligible bookings race for them', async function () {
      this.timeout(60_000);
      const patients = await Promise.all(Array.from({ length: 5 }, () => patientClient(web.app, web.db)));
      const test = await createService(web.db, { pricePaise: 120_000 });
      const before = await quotaToday(admin);
      const limit = before.used + 10;
      await changeConfig(admin, web.db, { dailyDiscountQuota: limit });
      try {
        const posted = await Promise.all(
          patients.flatMap((patient) =>
            Array.from({ length: 10 }, () => book(patient, [test.id]).then(({ id }) => ({ patient, id }))),
          ),
        );
        const ids = new Set(posted.map(({ id }) => id));
        expect(ids.size).to.equal(50);

        const peaks: number[] = [];
        const bookings = await waitFor(
          async () => {
            const quota = await quotaToday(admin);
            peaks.push(quota.used);
            const lists = await Promise.all(patients.map((patient) => patient.get('/api/bookings')));
            const all = lists
              .flatMap((res) => res.body.bookings as BookingView[])
              .filter((b) => ids.has(b.id));
            const done = all.every(
              (b) => b.status !== 'PENDING' && b.events.length >= (b.status === 'CONFIRMED' ? 6 : 5),
            );
            return all.length === 50 && done ? all : null;
          },
          { timeoutMs: 45_000, intervalMs: 100, message: 'all 50 bookings to settle' },
        );

        const confirmed = bookings.filter((b) => b.status === 'CONFIRMED');
        const rejected = bookings.filter((b) => b.status === 'REJECTED');
        expect(confirmed).to.have.length(10);
        expect(rejected).to.have.length(40);
        for (const b of confirmed) {
          expect(eventTypes(b), b.id).to.deep.equal(FLOWS.discounted);
          expect(b.pricing).to.include({ discountApplied: true, discountPaise: 14_400, finalPaise: 105_600 });
        }
        for (const b of rejected) {
          expect(eventTypes(b), b.id).to.deep.equal(FLOWS.quotaExhausted);
          expect(b.reason).to.equal(QUOTA_REACHED);
        }
        for (const b of bookings)
          expect(
            b.services.map((line) => line.pricePaise),
            b.id,
          ).to.deep.equal([120_000]);
        const after = await quotaToday(admin);
        expect(after).to.include({ used: limit, limit });
        expect(Math.max(...peaks)).to.be.at.most(limit);
      } finally {
        await ensureQuotaRoom(admin, web.db, 100);
      }
    });
  });

  describe('when payments fail (simulation switched by an admin)', () => {
    before(async () => {
      await ensureQuotaRoom(admin, web.db, 5);
      await changeConfig(admin, web.db, { paymentSimulationMode: 'fail' });
    });
    after(async () => {
      await changeConfig(admin, web.db, { paymentSimulationMode: 'success' });
    });

    it('compensates: releases the discount slot, then fails the booking', async () => {
      const patient = await patientClient(web.app, web.db);
      const test = await createService(web.db, { pricePaise: 200_000 });
      const before = await quotaToday(admin);

      const { id } = await book(patient, [test.id]);
      const booking = await settled(patient, id, { events: FLOWS.paymentFailedReleased.length });

      expect(eventTypes(booking)).to.deep.equal(FLOWS.paymentFailedReleased);
      expect(booking.status).to.equal('FAILED');
      expect(booking.reason).to.match(/^Payment failed: /);
      expect((await quotaToday(admin)).used).to.equal(before.used);
      const reservation = await web.db
        .selectFrom('quota.reservations')
        .selectAll()
        .where('booking_id', '=', id)
        .executeTakeFirstOrThrow();
      expect(reservation).to.include({ status: 'released', day: before.date });
      const [charge] = await payment(id);
      expect(charge).to.include({ status: 'FAILED' });
    });

    it('fails a booking without a discount with nothing to release', async () => {
      const patient = await patientClient(web.app, web.db);
      const test = await createService(web.db, { pricePaise: 25_000 });

      const { id } = await book(patient, [test.id]);
      const booking = await settled(patient, id, { events: FLOWS.paymentFailedNothingHeld.length });

      expect(eventTypes(booking)).to.deep.equal(FLOWS.paymentFailedNothingHeld);
      expect(booking.status).to.equal('FAILED');
      expect((await bookingStatus(patient, id)).pricing).to.include({
        finalPaise: 25_000,
        discountApplied: false,
      });
    });
  });

  describe('deadlines and crashes', () => {
    /** Stamps a 1.5 s deadline on the bookings it accepts (the web sets deadline_at, the booking worker sweeps). */
    let hastyWeb: TestApp;
    let redis: Redis;
    const quotaStream = () => `${process.env.REDIS_PREFIX}stream:quota`;

    before(async () => {
      hastyWeb = await startTestApp({ relay: true, env: { SAGA_DEADLINE_MS: '1500' } });
      redis = new Redis(process.env.REDIS_URL as string);
    });
    after(async () => {
      redis?.disconnect();
      await hastyWeb?.close();
    });

    it('fails a booking past its deadline with compensation, voids its charge still at the gateway, and releases the slot on its day', async () => {
      await system.ensureEnv('payment', SLOW_PAYMENT);
      await ensureQuotaRoom(admin, web.db, 5);
      const patient = await patientClient(hastyWeb.app, hastyWeb.db);
      const test = await createService(web.db, { pricePaise: 150_000 });
      const before = await quotaToday(admin);

      const { id, correlationId } = await book(patient, [test.id]);
      const booking = await waitFor(
        async () => {
          const seen = await bookingStatus(patient, id);
          const types = eventTypes(seen);
          return seen.status === 'FAILED' && types.includes('DiscountQuotaReleased') ? seen : null;
        },
        { timeoutMs: 20_000, intervalMs: 50, message: 'the booking to fail and its slot to be released' },
      );

      // Failed at the deadline (1.5 s) while the gateway call (3 s) was still on its way: the compensation
      // voided the key at the gateway, so the charge is refused when it arrives and nothing is taken.
      expect(eventTypes(booking)).to.deep.equal([
        'BookingRequested',
        'SlotSkipped',
        'PricingCalculated',
        'DiscountQuotaReserved',
        'CompensationTriggered',
        'BookingFailed',
        'DiscountQuotaReleased',
      ]);
      expect(booking.status).to.equal('FAILED');
      expect(booking.reason).to.equal(DEADLINE_REASON);

      // The charge in flight comes back refused; the payment stays cancelled, and nothing was charged.
      const charge = await waitFor(
        async () => {
          const [row] = await payment(id);
          const gateway = await web.db
            .selectFrom('gateway.charges')
            .selectAll()
            .where('idempotency_key', '=', id)
            .execute();
          return row?.status === 'CANCELLED' && gateway.length === 1 && { row, gateway };
        },
        { timeoutMs: 10_000, message: 'the charge in flight to come back' },
      );
      expect(charge.gateway[0]).to.include({ status: 'cancelled' });
      const reservation = await web.db
        .selectFrom('quota.reservations')
        .selectAll()
        .where('booking_id', '=', id)
        .executeTakeFirstOrThrow();
      expect(reservation).to.include({ status: 'released', day: before.date });
      expect((await quotaToday(admin)).used).to.equal(before.used);

      const trail = await waitFor(
        async () => {
          const entries = await auditTrail(admin, correlationId);
          return entries.length >= 7 ? entries : null;
        },
        { message: 'the audit log to hold the saga' },
      );
      const byType = new Map(trail.map((entry) => [entry.type, entry]));
      expect(byType.get('CompensationTriggered')?.data).to.include({ cause: 'deadline' });
      expect(byType.has('PaymentCompleted')).to.equal(false);
      expect(byType.get('DiscountQuotaReleased')?.data).to.include({
        day: byType.get('DiscountQuotaReserved')?.data.day,
      });
      expect(trail.every((entry) => entry.correlationId === correlationId)).to.equal(true);
    });

    it('finishes every booking, each charged once, when the payment worker is killed mid-charge and restarted', async function () {
      this.timeout(40_000);
      await system.ensureEnv('payment', SLOW_PAYMENT);
      await ensureQuotaRoom(admin, web.db, 5);
      const patient = await patientClient(web.app, web.db);
      const expensive = await createService(web.db, { pricePaise: 110_000 });
      const cheap = await createService(web.db, { pricePaise: 30_000 });
      const consumer = system.consumerName('payment');

      const accepted = await Promise.all(
        [expensive, cheap, expensive, cheap].map((service) => book(patient, [service.id])),
      );
      const ids = accepted.map(({ id }) => id);
      // Every quota decision is on the stream and the payment worker holds at least one of them mid-charge.
      await waitFor(
        async () => {
          const seen = await Promise.all(ids.map((id) => bookingStatus(patient, id)));
          const decided = seen.every((b) => eventTypes(b).some((type) => type.startsWith('DiscountQuota')));
          const [pending] = (await redis.xpending(quotaStream(), 'payment')) as [number];
          return decided && pending > 0;
        },
        { timeoutMs: 10_000, message: 'the payment worker to be charging' },
      );

      const exit = await system.kill('payment', 'SIGKILL');
      expect(exit.signal).to.equal('SIGKILL');
      const pending = (await redis.xpending(quotaStream(), 'payment', '-', '+', 100)) as [
        string,
        string,
        number,
        number,
      ][];
      expect(pending.length).to.be.greaterThan(0);
      expect(pending.every(([, owner]) => owner === consumer)).to.equal(true);
      const unfinished = await Promise.all(ids.map((id) => bookingStatus(patient, id)));
      expect(unfinished.filter((b) => b.status === 'PENDING').length).to.be.greaterThan(0);

      // Same consumer name: the new process takes back what the killed one left pending.
      await system.launch('payment', FAST_PAYMENT);
      const bookings: BookingView[] = [];
      for (const { id } of accepted) bookings.push(await settled(patient, id, { events: 6 }));

      expect(bookings.map((b) => b.status)).to.deep.equal([
        'CONFIRMED',
        'CONFIRMED',
        'CONFIRMED',
        'CONFIRMED',
      ]);
      expect(bookings.map(eventTypes)).to.deep.equal([
        FLOWS.discounted,
        FLOWS.undiscounted,
        FLOWS.discounted,
        FLOWS.undiscounted,
      ]);
      const payments = await web.db
        .selectFrom('payment.payments')
        .selectAll()
        .where('booking_id', 'in', ids)
        .execute();
      expect(payments).to.have.length(4);
      for (const b of bookings) {
        expect(payments.find((row) => row.booking_id === b.id)).to.include({
          status: 'COMPLETED',
          amount_paise: b.pricing?.finalPaise,
        });
        const trail = await waitFor(
          async () => {
            const entries = await auditTrail(admin, b.correlationId);
            return entries.length >= 6 ? entries : null;
          },
          { message: 'the audit log to hold the saga' },
        );
        expect(
          trail.filter((entry) => entry.type.startsWith('Payment')).map((entry) => entry.type),
          b.id,
        ).to.deep.equal(['PaymentCompleted']);
      }
      const [left] = (await redis.xpending(quotaStream(), 'payment')) as [number];
      expect(left).to.equal(0);
    });

    it('settles, in saga order, the events a booking worker that was down receives all at once', async () => {
      await ensureQuotaRoom(admin, web.db, 5);
      const patient = await patientClient(web.app, web.db);
      const consult = await createService(web.db, { pricePaise: 70_000 });
      const scan = await createService(web.db, { pricePaise: 45_000 });
      expect(await system.kill('booking', 'SIGTERM')).to.deep.equal({ code: 0, signal: null });

      // Without the booking worker the other participants run each saga up to the payment.
      const orders = [[consult.id, scan.id], [consult.id], [scan.id, consult.id]];
      const accepted = await Promise.all(orders.map((serviceIds) => book(patient, serviceIds)));
      await waitFor(
        async () => {
          const trails = await Promise.all(
            accepted.map(({ correlationId }) => auditTrail(admin, correlationId)),
          );
          return trails.every((trail) => trail.some((entry) => entry.type === 'PaymentCompleted'));
        },
        { timeoutMs: 15_000, message: 'every saga to reach its payment' },
      );
      for (const { id } of accepted)
        expect(eventTypes(await bookingStatus(patient, id))).to.deep.equal(['BookingRequested']);

      // Back up, it reads PricingCalculated, the quota decision and PaymentCompleted in one batch.
      await system.launch('booking');
      const bookings: BookingView[] = [];
      for (const { id } of accepted) bookings.push(await settled(patient, id, { events: 6 }));
      expect(bookings.map(eventTypes)).to.deep.equal([
        FLOWS.discounted,
        FLOWS.undiscounted,
        FLOWS.discounted,
      ]);
      expect(bookings.map((b) => b.status)).to.deep.equal(['CONFIRMED', 'CONFIRMED', 'CONFIRMED']);
      expect(bookings.map((b) => b.services.map((line) => line.pricePaise))).to.deep.equal([
        [70_000, 45_000],
        [70_000],
        [45_000, 70_000],
      ]);
      expect(bookings.map((b) => b.pricing?.finalPaise)).to.deep.equal([101_200, 70_000, 101_200]);
    });
  });
});

/** Stream ids compare by time, then sequence. */
function afterOrAt(id: string, than: string): boolean {
  const [ms = 0, seq = 0] = id.split('-').map(Number);
  const [otherMs = 0, otherSeq = 0] = than.split('-').map(Number);
  return ms > otherMs || (ms === otherMs && seq >= otherSeq);
}
