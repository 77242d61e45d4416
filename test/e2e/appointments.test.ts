import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/app.js';
import { createService } from '../support/factories.js';
import type { Client } from '../support/http.js';
import {
  QUOTA_REACHED,
  SLOT_TAKEN,
  adminClient,
  auditTrail,
  bookAt,
  bookingStatus,
  changeConfig,
  ensureQuotaRoom,
  eventTypes,
  freeSlots,
  patientClient,
  quotaToday,
  settled,
  type SlotView,
} from '../support/saga-helpers.js';
import { SagaSystem, workerNames } from '../support/system.js';
import { waitFor } from '../support/wait.js';

const FAST_PAYMENT = { PAYMENT_DELAY_MS: '100' };

const RESERVED_CONFIRMED = [
  'BookingRequested',
  'SlotReserved',
  'PricingCalculated',
  'DiscountQuotaSkipped',
  'PaymentCompleted',
  'BookingConfirmed',
];
const SLOT_REJECTED = ['BookingRequested', 'SlotRejected', 'BookingRejected'];
const PAYMENT_FAILED_RELEASED = [
  'BookingRequested',
  'SlotReserved',
  'PricingCalculated',
  'DiscountQuotaSkipped',
  'PaymentFailed',
  'CompensationTriggered',
  'SlotReleased',
  'BookingFailed',
];

describe('appointments end to end (the Procfile processes)', function () {
  this.timeout(60_000);
  let system: SagaSystem;
  let web: TestApp;
  let hastyWeb: TestApp;
  let admin: Client;
  let slots: SlotView[];

  before(async function () {
    this.timeout(90_000);
    const [started, app, hasty] = await Promise.allSettled([
      SagaSystem.start({
        processes: workerNames(),
        env: { SAGA_SWEEP_INTERVAL_MS: '100', ...FAST_PAYMENT },
        readyTimeoutMs: 60_000,
      }),
      startTestApp({ relay: true }),
      // Stamps a 1.5 s deadline on the bookings it accepts.
      startTestApp({ relay: true, env: { SAGA_DEADLINE_MS: '1500' } }),
    ]);
    if (started.status === 'fulfilled') system = started.value;
    if (app.status === 'fulfilled') web = app.value;
    if (hasty.status === 'fulfilled') hastyWeb = hasty.value;
    for (const result of [started, app, hasty]) if (result.status === 'rejected') throw result.reason;
    admin = await adminClient(web.app, web.db);
    slots = await freeSlots(admin, 6);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') system?.dump();
  });

  after(async function () {
    this.timeout(60_000);
    try {
      await Promise.all([web?.close(), hastyWeb?.close()]);
    } finally {
      await system?.stop();
    }
  });

  const held = async (slot: SlotView) =>
    (
      await web.db
        .selectFrom('scheduling.slots')
        .select('held')
        .where('start', '=', new Date(slot.start))
        .executeTakeFirst()
    )?.held ?? 0;
  const available = async (client: Client, slot: SlotView) => {
    const res = await client.get(`/api/slots?from=${slot.start.slice(0, 10)}&days=1`);
    return (res.body.slots as SlotView[]).find((listed) => listed.start === slot.start)?.available;
  };
  const slotReleases = async (correlationId: string) =>
    (await auditTrail(admin, correlationId)).filter((entry) => entry.type === 'SlotReleased');

  it('holds exactly 3 places when 40 patients race for a slot of capacity 3; a compensation frees a place a new booking takes', async function () {
    this.timeout(90_000);
    const slot = slots[0]!;
    expect(slot.capacity).to.equal(3);
    await changeConfig(admin, web.db, { paymentSimulationMode: 'fail' });
    // With the payment worker down, the holders keep their places until the race is looked at.
    expect(await system.kill('payment', 'SIGTERM')).to.deep.equal({ code: 0, signal: null });
    try {
      const patients = await Promise.all(Array.from({ length: 4 }, () => patientClient(web.app, web.db)));
      const service = await createService(web.db, { pricePaise: 30_000 });
      const posted = await Promise.all(
        patients.flatMap((patient) =>
          Array.from({ length: 10 }, () =>
            bookAt(patient, [service.id], slot.start).then(({ id }) => ({ patient, id })),
          ),
        ),
      );
      expect(new Set(posted.map(({ id }) => id)).size).to.equal(40);

      // Every request decided: 3 hold a place (waiting for their payment), 37 are rejected.
      const decided = await waitFor(
        async () => {
          const seen = await Promise.all(posted.map(({ patient, id }) => bookingStatus(patient, id)));
          const rejected = seen.filter((b) => b.status === 'REJECTED');
          const holding = seen.filter((b) => eventTypes(b).includes('SlotReserved'));
          return rejected.length + holding.length === 40 ? { rejected, holding } : null;
        },
        { timeoutMs: 30_000, intervalMs: 100, message: 'every request for the slot to be decided' },
      );
      expect(decided.holding).to.have.length(3);
      expect(decided.rejected).to.have.length(37);
      for (const b of decided.rejected) {
        expect(eventTypes(b), b.id).to.deep.equal(SLOT_REJECTED);
        expect(b.reason).to.equal(SLOT_TAKEN);
        expect(b.pricing).to.equal(null);
        expect(b.appointment).to.deep.equal({ start: slot.start, end: slot.end });
      }
      const holds = await web.db
        .selectFrom('scheduling.holds')
        .select('held_after')
        .where(
          'booking_id',
          'in',
          decided.holding.map((b) => b.id),
        )
        .execute();
      expect(holds.map((hold) => hold.held_after).sort()).to.deep.equal([1, 2, 3]);
      expect(await held(slot)).to.equal(3);
      expect(await available(admin, slot)).to.equal(0);

      // The holders' payments fail: each compensation gives exactly one place back.
      await system.launch('payment');
      const holders = await Promise.all(
        decided.holding.map((b) => {
          const owner = posted.find(({ id }) => id === b.id)!.patient;
          return settled(owner, b.id, { events: PAYMENT_FAILED_RELEASED.length, timeoutMs: 30_000 });
        }),
      );
      for (const b of holders) {
        expect(b.status).to.equal('FAILED');
        expect(eventTypes(b), b.id).to.deep.equal(PAYMENT_FAILED_RELEASED);
        expect(await slotReleases(b.correlationId), b.id).to.have.length(1);
      }
      expect(await held(slot)).to.equal(0);
      expect(await available(admin, slot)).to.equal(3);

      await changeConfig(admin, web.db, { paymentSimulationMode: 'success' });
      const { id } = await bookAt(patients[1]!, [service.id], slot.start);
      const booking = await settled(patients[1]!, id, { events: RESERVED_CONFIRMED.length });
      expect(eventTypes(booking)).to.deep.equal(RESERVED_CONFIRMED);
      expect(booking.status).to.equal('CONFIRMED');
      expect(await held(slot)).to.equal(1);
    } finally {
      if (!system.isRunning('payment')) await system.launch('payment');
      await changeConfig(admin, web.db, { paymentSimulationMode: 'success' });
    }
  });

  it('gives the place back once when the payment fails', async () => {
    const slot = slots[1]!;
    const patient = await patientClient(web.app, web.db);
    const service = await createService(web.db, { pricePaise: 40_000 });
    await changeConfig(admin, web.db, { paymentSimulationMode: 'fail' });
    try {
      const { id, correlationId } = await bookAt(patient, [service.id], slot.start);
      const booking = await settled(patient, id, { events: PAYMENT_FAILED_RELEASED.length });
      expect(eventTypes(booking)).to.deep.equal(PAYMENT_FAILED_RELEASED);
      expect(booking.status).to.equal('FAILED');
      expect(booking.appointment).to.deep.equal({ start: slot.start, end: slot.end });
      const released = await waitFor(async () => {
        const entries = await slotReleases(correlationId);
        return entries.length > 0 ? entries : null;
      });
      expect(released).to.have.length(1);
      expect(released[0]?.data).to.include({ slotStart: slot.start });
      expect(await held(slot)).to.equal(0);
    } finally {
      await changeConfig(admin, web.db, { paymentSimulationMode: 'success' });
    }
  });

  it('gives the place back once when the saga passes its deadline while its payment is on its way', async () => {
    const slot = slots[2]!;
    await system.ensureEnv('payment', { PAYMENT_DELAY_MS: '3000' });
    try {
      const patient = await patientClient(hastyWeb.app, hastyWeb.db);
      const service = await createService(web.db, { pricePaise: 40_000 });
      const { id, correlationId } = await bookAt(patient, [service.id], slot.start);
      const booking = await waitFor(
        async () => {
          const seen = await bookingStatus(patient, id);
          return seen.status === 'FAILED' && eventTypes(seen).includes('SlotReleased') ? seen : null;
        },
        { timeoutMs: 20_000, intervalMs: 50, message: 'the booking to fail and its place to be given back' },
      );
      expect(eventTypes(booking)).to.deep.equal([
        'BookingRequested',
        'SlotReserved',
        'PricingCalculated',
        'DiscountQuotaSkipped',
        'CompensationTriggered',
        'BookingFailed',
        'SlotReleased',
      ]);
      expect(await slotReleases(correlationId)).to.have.length(1);
      expect(await held(slot)).to.equal(0);
      // The charge still on its way comes back refused, and the place is not given back a second time.
      await waitFor(
        async () => {
          const [row] = await web.db
            .selectFrom('payment.payments')
            .select('status')
            .where('booking_id', '=', id)
            .execute();
          return row?.status === 'CANCELLED';
        },
        { timeoutMs: 10_000, message: 'the charge in flight to come back' },
      );
      expect(await slotReleases(correlationId)).to.have.length(1);
      expect(await held(slot)).to.equal(0);
    } finally {
      await system.ensureEnv('payment', FAST_PAYMENT);
    }
  });

  it('gives the place back when the discount quota rejects the booking', async () => {
    const slot = slots[3]!;
    const patient = await patientClient(web.app, web.db);
    const expensive = await createService(web.db, { pricePaise: 150_000 });
    const before = await quotaToday(admin);
    await changeConfig(admin, web.db, { dailyDiscountQuota: before.used });
    try {
      const { id, correlationId } = await bookAt(patient, [expensive.id], slot.start);
      const booking = await settled(patient, id, { events: 6 });
      expect(eventTypes(booking)).to.deep.equal([
        'BookingRequested',
        'SlotReserved',
        'PricingCalculated',
        'DiscountQuotaRejected',
        'BookingRejected',
        'SlotReleased',
      ]);
      expect(booking.reason).to.equal(QUOTA_REACHED);
      expect(await slotReleases(correlationId)).to.have.length(1);
      expect(await held(slot)).to.equal(0);
    } finally {
      await ensureQuotaRoom(admin, web.db, 100);
    }
  });

  it('never exceeds the capacity while an admin lowers it during a race', async function () {
    this.timeout(90_000);
    const slot = slots[4]!;
    const patients = await Promise.all(Array.from({ length: 4 }, () => patientClient(web.app, web.db)));
    const service = await createService(web.db, { pricePaise: 30_000 });
    const schedule = (await admin.get('/api/admin/schedule')).body as { version: number; capacity: number };
    try {
      const bookings = patients.flatMap((patient) =>
        Array.from({ length: 10 }, () =>
          bookAt(patient, [service.id], slot.start).then(({ id }) => ({ patient, id })),
        ),
      );
      // The change goes in once the first place is taken, while the other requests are being decided.
      await waitFor(() => held(slot), { timeoutMs: 10_000, message: 'the first place to be taken' });
      const lowered = await admin.put('/api/admin/schedule', { capacity: 1 });
      expect(lowered.status, lowered.text).to.equal(200);
      const posted = await Promise.all(bookings);
      const seen = await Promise.all(
        posted.map(({ patient, id }) => settled(patient, id, { timeoutMs: 45_000 })),
      );

      const holds = await web.db
        .selectFrom('scheduling.holds')
        .selectAll()
        .where(
          'booking_id',
          'in',
          posted.map(({ id }) => id),
        )
        .execute();
      expect(holds).to.have.length(40);
      const taken = holds.filter((hold) => hold.status === 'held');
      // Each place was taken within the capacity in force when it was taken, and none after the change.
      for (const hold of holds) expect(hold.held_after ?? 0).to.be.at.most(hold.capacity ?? 0);
      for (const hold of taken.filter((h) => h.schedule_version === schedule.version + 1))
        expect(hold.held_after).to.equal(1);
      // The change came after the first place was taken: that one stays, under the old capacity.
      expect(taken.some((hold) => hold.schedule_version === schedule.version)).to.equal(true);
      expect(taken.length).to.be.within(1, 3);
      expect(await held(slot)).to.equal(taken.length);
      expect(seen.filter((b) => b.status === 'CONFIRMED')).to.have.length(taken.length);
      expect(seen.filter((b) => b.status === 'REJECTED')).to.have.length(40 - taken.length);
    } finally {
      await admin.put('/api/admin/schedule', { capacity: schedule.capacity });
    }
  });
});
