import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import type { Handler } from '../../lib/bus/consumer.js';
import { addDays, manualClock } from '../../lib/clock.js';
import { createDb, type Db } from '../../lib/db/database.js';
import type { Event } from '../../lib/events/catalogue.js';
import { getSchedule, updateSchedule } from '../../lib/scheduling/schedule-service.js';
import { schedulingHandlers } from '../../lib/scheduling/scheduling-handlers.js';
import { DEFAULT_SCHEDULE, formatIst, istInstant, weekdayOf } from '../../lib/scheduling/slot-rules.js';
import { buildPatient } from '../support/factories.js';
import { handle, sagaEvent } from '../support/handlers.js';
import { waitFor } from '../support/wait.js';

/** Each test books its own far-away Monday, so tests never share a slot's count. */
let weekCounter = 0;
function uniqueMonday(): string {
  const date = addDays('2031-01-06', weekCounter++ * 7);
  expect(weekdayOf(date)).to.equal('monday');
  return date;
}

function requested(slotStart: string | null, bookingId: string = randomUUID()) {
  return sagaEvent(
    'BookingRequested',
    {
      reference: 'MC-TEST-0001',
      userId: randomUUID(),
      patient: buildPatient(),
      serviceIds: [randomUUID()],
      slotStart,
    },
    bookingId,
  );
}

describe('scheduling participant', () => {
  let db: Db;
  const clock = manualClock('2031-01-01T06:00:00Z');
  const handlers = schedulingHandlers({ clock });

  before(() => {
    db = createDb(process.env.DATABASE_URL as string, 20);
  });
  after(async () => {
    await db.destroy();
  });

  const held = async (start: string) =>
    (
      await db
        .selectFrom('scheduling.slots')
        .select('held')
        .where('start', '=', new Date(start))
        .executeTakeFirst()
    )?.held ?? 0;
  const hold = (bookingId: string) =>
    db
      .selectFrom('scheduling.holds')
      .selectAll()
      .where('booking_id', '=', bookingId)
      .executeTakeFirstOrThrow();
  const compensation = (bookingId: string) =>
    sagaEvent(
      'CompensationTriggered',
      { reason: 'Payment failed: declined', cause: 'payment_failed' },
      bookingId,
    );

  it('skips a walk-in and passes on what pricing needs', async () => {
    const event = requested(null);
    const [skipped] = await handle(db, handlers, event);
    expect(skipped?.type).to.equal('SlotSkipped');
    expect(skipped?.data).to.deep.equal({
      request: {
        serviceIds: event.data.serviceIds,
        patient: { gender: event.data.patient.gender, dateOfBirth: event.data.patient.dateOfBirth },
      },
    });
    expect(await hold(event.bookingId as string)).to.include({ status: 'skipped', slot_start: null });
  });

  it('reserves a place with the slot end and schedule version, in IST', async () => {
    const start = formatIst(istInstant(uniqueMonday(), '09:00'));
    const [reserved] = await handle(db, handlers, requested(start));
    expect(reserved?.type).to.equal('SlotReserved');
    const { version } = await getSchedule(db);
    expect(reserved?.data).to.deep.include({
      slotStart: start,
      slotEnd: start.replace('T09:00', 'T09:15'),
      scheduleVersion: version,
    });
    expect(await held(start)).to.equal(1);
  });

  it('holds exactly the capacity when 30 bookings ask for one slot at once', async () => {
    const start = formatIst(istInstant(uniqueMonday(), '10:30'));
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, () => handle(db, handlers, requested(start))),
    );
    const types = outcomes.map(([event]) => event?.type);
    expect(types.filter((type) => type === 'SlotReserved')).to.have.length(DEFAULT_SCHEDULE.capacity);
    expect(types.filter((type) => type === 'SlotRejected')).to.have.length(30 - DEFAULT_SCHEDULE.capacity);
    const rejected = outcomes.flat().find((event) => event.type === 'SlotRejected') as Event<'SlotRejected'>;
    expect(rejected.data).to.deep.equal({
      slotStart: start,
      reason: 'That time is no longer available. Please choose another.',
    });
    expect(await held(start)).to.equal(DEFAULT_SCHEDULE.capacity);
  });

  it('rejects a start that is no slot, one already begun, and one on a closed day', async () => {
    const monday = uniqueMonday();
    const starts = [
      formatIst(istInstant(monday, '09:05')),
      formatIst(istInstant(addDays(monday, -1), '09:00')),
      '2030-12-30T09:00:00+05:30',
    ];
    for (const start of starts) {
      const [event] = await handle(db, handlers, requested(start));
      expect(event?.type, start).to.equal('SlotRejected');
      expect(await held(start), start).to.equal(0);
    }
  });

  it('gives a place back exactly once, whatever asks for it and how often', async () => {
    const start = formatIst(istInstant(uniqueMonday(), '11:00'));
    const bookingId = randomUUID();
    await handle(db, handlers, requested(start, bookingId));
    await handle(db, handlers, requested(start));
    expect(await held(start)).to.equal(2);

    // The compensation twice (a re-drive has a new event id), then a rejection.
    const first = await handle(db, handlers, compensation(bookingId));
    const again = await handle(db, handlers, compensation(bookingId));
    const rejected = await handle(
      db,
      handlers,
      sagaEvent('BookingRejected', { reason: 'Daily discount quota reached.' }, bookingId),
    );
    expect(first.map((event) => event.type)).to.deep.equal(['SlotReleased']);
    expect(first[0]?.data).to.deep.equal({ slotStart: start });
    expect([...again, ...rejected]).to.deep.equal([]);
    expect(await held(start)).to.equal(1);
    expect(await hold(bookingId)).to.include({ status: 'released' });
  });

  it('gives a quota-rejected booking its place back, and a slot-rejected one nothing', async () => {
    const start = formatIst(istInstant(uniqueMonday(), '12:00'));
    const ids = Array.from({ length: DEFAULT_SCHEDULE.capacity + 1 }, () => randomUUID());
    for (const id of ids) await handle(db, handlers, requested(start, id));
    const reason = { reason: 'rejected' };
    const released = await handle(db, handlers, sagaEvent('BookingRejected', reason, ids[0]));
    const nothing = await handle(db, handlers, sagaEvent('BookingRejected', reason, ids.at(-1)));
    expect(released.map((event) => event.type)).to.deep.equal(['SlotReleased']);
    expect(nothing).to.deep.equal([]);
    expect(await held(start)).to.equal(DEFAULT_SCHEDULE.capacity - 1);
  });

  it('takes nothing for a booking compensated before its request arrived', async () => {
    const start = formatIst(istInstant(uniqueMonday(), '13:00'));
    const bookingId = randomUUID();
    expect(await handle(db, handlers, compensation(bookingId))).to.deep.equal([]);
    expect(await handle(db, handlers, requested(start, bookingId))).to.deep.equal([]);
    expect(await held(start)).to.equal(0);
    expect(await hold(bookingId)).to.include({ status: 'cancelled' });
  });

  it('takes nothing for a walk-in compensated before its request arrived, and skips a walk-in once', async () => {
    const compensated = randomUUID();
    await handle(db, handlers, compensation(compensated));
    expect(await handle(db, handlers, requested(null, compensated))).to.deep.equal([]);
    expect(await hold(compensated)).to.include({ status: 'cancelled' });

    const walkIn = requested(null);
    expect((await handle(db, handlers, walkIn)).map((event) => event.type)).to.deep.equal(['SlotSkipped']);
    expect(await handle(db, handlers, walkIn)).to.deep.equal([]);
  });

  describe('a reschedule', () => {
    const moveTo = (bookingId: string, slotStart: string, previousSlotStart: string | null) =>
      sagaEvent(
        'RescheduleRequested',
        {
          reference: 'MC-TEST-0001',
          slotStart,
          previousSlotStart,
          reason: null,
          requestedBy: 'patient',
          actor: 'patient@example.com',
        },
        bookingId,
      );
    const cancellation = (bookingId: string) =>
      sagaEvent(
        'CancellationRequested',
        { reference: 'MC-TEST-0001', reason: null, requestedBy: 'patient', actor: 'patient@example.com' },
        bookingId,
      );

    it('takes the new place, then gives the old one back on its own slot; a later cancel frees the new one', async () => {
      const monday = uniqueMonday();
      const [from, to] = [formatIst(istInstant(monday, '09:00')), formatIst(istInstant(monday, '16:00'))];
      const bookingId = randomUUID();
      await handle(db, handlers, requested(from, bookingId));
      const moved = await handle(db, handlers, moveTo(bookingId, to, from));
      expect(moved.map((event) => [event.type, event.data])).to.deep.equal([
        [
          'SlotReserved',
          {
            slotStart: to,
            slotEnd: to.replace('T16:00', 'T16:15'),
            scheduleVersion: (await getSchedule(db)).version,
            cause: 'reschedule',
            previousSlotStart: from,
          },
        ],
        ['SlotReleased', { slotStart: from, cause: 'reschedule' }],
      ]);
      expect([await held(from), await held(to)]).to.deep.equal([0, 1]);
      expect(await hold(bookingId)).to.deep.include({ status: 'held', slot_start: new Date(to) });

      const released = await handle(db, handlers, cancellation(bookingId));
      expect(released.map((event) => [event.type, event.data])).to.deep.equal([
        ['SlotReleased', { slotStart: to }],
      ]);
      expect(await handle(db, handlers, cancellation(bookingId))).to.deep.equal([]);
      expect([await held(from), await held(to)]).to.deep.equal([0, 0]);
    });

    it('rejects a full new slot and keeps the old place', async () => {
      const monday = uniqueMonday();
      const [from, full] = [formatIst(istInstant(monday, '09:30')), formatIst(istInstant(monday, '15:00'))];
      const bookingId = randomUUID();
      await handle(db, handlers, requested(from, bookingId));
      for (let i = 0; i < DEFAULT_SCHEDULE.capacity; i++) await handle(db, handlers, requested(full));
      const answer = await handle(db, handlers, moveTo(bookingId, full, from));
      expect(answer.map((event) => event.type)).to.deep.equal(['RescheduleRejected']);
      expect(answer[0]?.data).to.deep.include({ slotStart: full });
      expect([await held(from), await held(full)]).to.deep.equal([1, DEFAULT_SCHEDULE.capacity]);
      expect(await hold(bookingId)).to.deep.include({ status: 'held', slot_start: new Date(from) });
    });

    it('gives a walk-in a place and releases nothing', async () => {
      const to = formatIst(istInstant(uniqueMonday(), '10:00'));
      const walkIn = requested(null);
      await handle(db, handlers, walkIn);
      const moved = await handle(db, handlers, moveTo(walkIn.bookingId as string, to, null));
      expect(moved.map((event) => event.type)).to.deep.equal(['SlotReserved']);
      expect(moved[0]?.data).to.deep.include({ previousSlotStart: null });
      expect(await held(to)).to.equal(1);
    });

    it('swaps two bookings’ slots at once without the moves waiting on each other', async () => {
      const monday = uniqueMonday();
      const pairs = await Promise.all(
        ['09', '11', '13', '15'].map(async (hour) => {
          const [a, b] = [
            formatIst(istInstant(monday, `${hour}:00`)),
            formatIst(istInstant(monday, `${hour}:45`)),
          ];
          const [first, second] = [randomUUID(), randomUUID()];
          await handle(db, handlers, requested(a, first));
          await handle(db, handlers, requested(b, second));
          return { a, b, first, second };
        }),
      );
      const outcomes = await Promise.all(
        pairs.flatMap(({ a, b, first, second }) => [
          handle(db, handlers, moveTo(first, b, a)),
          handle(db, handlers, moveTo(second, a, b)),
        ]),
      );
      expect(outcomes.map(([event]) => event?.type)).to.deep.equal(Array(8).fill('SlotReserved'));
      for (const { a, b, first, second } of pairs) {
        expect([await held(a), await held(b)]).to.deep.equal([1, 1]);
        expect((await hold(first)).slot_start).to.deep.equal(new Date(b));
        expect((await hold(second)).slot_start).to.deep.equal(new Date(a));
      }
    });

    it('never goes above the capacity when moves and bookings race for the last places', async () => {
      const monday = uniqueMonday();
      const target = formatIst(istInstant(monday, '17:00'));
      const movers = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const bookingId = randomUUID();
          const from = formatIst(istInstant(monday, `1${i}:15`));
          await handle(db, handlers, requested(from, bookingId));
          return { bookingId, from };
        }),
      );
      const outcomes = await Promise.all([
        ...movers.map(({ bookingId, from }) => handle(db, handlers, moveTo(bookingId, target, from))),
        ...Array.from({ length: 4 }, () => handle(db, handlers, requested(target))),
      ]);
      const taken = outcomes.flat().filter((e) => e.type === 'SlotReserved');
      expect(taken).to.have.length(DEFAULT_SCHEDULE.capacity);
      expect(await held(target)).to.equal(DEFAULT_SCHEDULE.capacity);
      // Each mover holds exactly one place: the new one, or its old one.
      let places = 0;
      for (const { bookingId, from } of movers) {
        const row = await hold(bookingId);
        places += (await held(from)) + (row.slot_start?.getTime() === new Date(target).getTime() ? 1 : 0);
      }
      expect(places).to.equal(movers.length);
    });
  });

  describe('while an admin changes the schedule', () => {
    afterEach(async () => {
      // Later suites expect the defaults.
      await updateSchedule(db, clock, 'test', DEFAULT_SCHEDULE);
    });

    it('gives the place back on the slot it was taken in, after the slot length changed', async () => {
      const start = formatIst(istInstant(uniqueMonday(), '09:15'));
      const bookingId = randomUUID();
      await handle(db, handlers, requested(start, bookingId));
      await updateSchedule(db, clock, 'admin@example.com', { slotMinutes: 30 });
      const [released] = await handle(db, handlers, compensation(bookingId));
      expect(released?.data).to.deep.equal({ slotStart: start });
      expect(await held(start)).to.equal(0);
    });

    it('applies a lowered capacity to every reservation after the change, never to one in flight', async () => {
      const start = formatIst(istInstant(uniqueMonday(), '14:00'));
      const { version } = await getSchedule(db);
      // One reservation in flight: its transaction has taken a place and holds the schedule's share lock.
      let finish!: () => void;
      const inFlight = db.transaction().execute(async (trx) => {
        const bookingId = randomUUID();
        const reserve = handlers.BookingRequested as Handler<'BookingRequested'>;
        await reserve(requested(start, bookingId), { trx, emit: (type: string) => ({ type }) as never });
        await new Promise<void>((resolve) => (finish = resolve));
      });
      await waitFor(() => finish !== undefined, { message: 'the first reservation to take its place' });
      const change = updateSchedule(db, clock, 'admin@example.com', { capacity: 1 });
      // The change waits for the reservation in flight; the reservations after it wait for the change.
      await waitFor(
        async () => {
          const { rows } = await sql<{ waiting: number }>`
            SELECT count(*)::int AS waiting FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND datname = current_database()`.execute(db);
          return (rows[0]?.waiting ?? 0) >= 1;
        },
        { message: 'the schedule change to wait for the reservation in flight' },
      );
      const later = Array.from({ length: 10 }, () => handle(db, handlers, requested(start)));
      finish();
      await inFlight;
      const { schedule } = await change;
      const outcomes = await Promise.all(later);

      expect(schedule).to.include({ capacity: 1, version: version + 1 });
      expect(outcomes.map(([event]) => event?.type)).to.deep.equal(Array(10).fill('SlotRejected'));
      expect(await held(start)).to.equal(1);
      const holds = await db
        .selectFrom('scheduling.holds')
        .selectAll()
        .where('slot_start', '=', new Date(start))
        .execute();
      expect(holds.filter((row) => row.status === 'held').map((row) => row.schedule_version)).to.deep.equal([
        version,
      ]);
      for (const row of holds) expect(row.held_after ?? 0).to.be.at.most(row.capacity ?? 0);
    });

    it('keeps places already held above a lowered capacity, and tells the admin', async () => {
      // Long after the other tests' slots, which are then past and not counted in the notices.
      const start = formatIst(istInstant('2040-01-02', '15:00'));
      clock.set(addDays(start.slice(0, 10), -7) + 'T06:00:00Z');
      try {
        for (let i = 0; i < 3; i++) await handle(db, handlers, requested(start));
        const { notices } = await updateSchedule(db, clock, 'admin@example.com', { capacity: 2 });
        expect(await held(start)).to.equal(3);
        expect(notices.join(' ')).to.match(/^1 upcoming slot holds more patients than the new capacity/);
        const [event] = await handle(db, handlers, requested(start));
        expect(event?.type).to.equal('SlotRejected');
        const closed = await updateSchedule(db, clock, 'admin@example.com', {
          closedDates: [start.slice(0, 10)],
        });
        expect(closed.notices.join(' ')).to.match(
          /3 upcoming appointments are at times the clinic is now closed/,
        );
      } finally {
        clock.set('2031-01-01T06:00:00Z');
      }
    });
  });
});
