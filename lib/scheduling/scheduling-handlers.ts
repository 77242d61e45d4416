import { sql, type Insertable } from 'kysely';
import type { Handler, Handlers } from '../bus/consumer.js';
import { RESCHEDULE_REJECTED_REASON, SLOT_REJECTED_REASON } from '../booking/booking-saga.js';
import type { Clock } from '../clock.js';
import type { Trx } from '../db/database.js';
import type { HoldsTable } from '../db/schema.js';
import { logger } from '../logger.js';
import { givePlaceBack, lockSlots, readSchedule, takePlace } from './schedule-repository.js';
import { formatIst, slotStartingAt } from './slot-rules.js';

async function lockHold(trx: Trx, bookingId: string) {
  return trx
    .selectFrom('scheduling.holds')
    .selectAll()
    .where('booking_id', '=', bookingId)
    .forUpdate()
    .executeTakeFirst();
}

async function recordHold(trx: Trx, hold: Omit<Insertable<HoldsTable>, 'created_at' | 'updated_at'>) {
  await trx.insertInto('scheduling.holds').values(hold).execute();
}

/**
 * Scheduling: holds one place in the chosen slot as a saga step (or rejects when it is full), moves it
 * to another slot when a confirmed booking is rescheduled, and gives it back exactly once when the
 * booking is compensated, rejected or cancelled later.
 */
export function schedulingHandlers({ clock }: { clock: Clock }): Handlers {
  const release: Handler<'CompensationTriggered' | 'BookingRejected' | 'CancellationRequested'> = async (
    event,
    { trx, emit },
  ) => {
    const bookingId = event.bookingId as string;
    const hold = await lockHold(trx, bookingId);
    if (!hold) {
      // Nothing taken yet: leave a mark so a late BookingRequested takes nothing.
      await recordHold(trx, { booking_id: bookingId, slot_start: null, status: 'cancelled' });
      return;
    }
    if (hold.status !== 'held' || !hold.slot_start) return;
    // The place goes back to the slot it was taken in, whatever the schedule says now.
    await trx
      .updateTable('scheduling.holds')
      .set({ status: 'released', updated_at: sql<Date>`now()` })
      .where('booking_id', '=', bookingId)
      .execute();
    await givePlaceBack(trx, hold.slot_start);
    const slotStart = formatIst(hold.slot_start);
    emit('SlotReleased', { slotStart });
    logger.info('slot released', { slotStart, cause: event.type });
  };

  return {
    BookingRequested: async (event, { trx, emit }) => {
      const bookingId = event.bookingId as string;
      const { serviceIds, patient, slotStart } = event.data;
      const request = { serviceIds, patient: { gender: patient.gender, dateOfBirth: patient.dateOfBirth } };
      if (!slotStart) {
        // A walk-in holds nothing: one statement records it, unless the booking has a mark already.
        const skipped = await trx
          .insertInto('scheduling.holds')
          .values({ booking_id: bookingId, slot_start: null, status: 'skipped' })
          .onConflict((conflict) => conflict.column('booking_id').doNothing())
          .returning('booking_id')
          .executeTakeFirst();
        if (skipped) emit('SlotSkipped', { request });
        return;
      }
      // Handled already, or compensated before it arrived: take nothing.
      if (await lockHold(trx, bookingId)) return;
      const start = new Date(slotStart);
      const { schedule, version } = await readSchedule(trx, 'shared');
      // The web checked the slot; since then the day may have closed or the slot begun.
      const slot = slotStartingAt(schedule, start);
      const held =
        slot && start.getTime() > clock.now().getTime()
          ? await takePlace(trx, start, schedule.capacity)
          : null;
      await recordHold(trx, {
        booking_id: bookingId,
        slot_start: start,
        status: held === null ? 'rejected' : 'held',
        schedule_version: version,
        capacity: schedule.capacity,
        held_after: held,
      });
      if (held === null || !slot) {
        emit('SlotRejected', { slotStart: formatIst(start), reason: SLOT_REJECTED_REASON });
        logger.info('slot not available', { slotStart: formatIst(start) });
        return;
      }
      emit('SlotReserved', {
        slotStart: formatIst(slot.start),
        slotEnd: formatIst(slot.end),
        scheduleVersion: version,
        request,
      });
      logger.info('slot reserved', { slotStart: formatIst(slot.start), held, capacity: schedule.capacity });
    },
    RescheduleRequested: async (event, { trx, emit }) => {
      const bookingId = event.bookingId as string;
      const hold = await lockHold(trx, bookingId);
      const start = new Date(event.data.slotStart);
      const reject = (why: string) => {
        emit('RescheduleRejected', { slotStart: formatIst(start), reason: RESCHEDULE_REJECTED_REASON });
        logger.info('reschedule rejected', { slotStart: formatIst(start), why });
      };
      // A confirmed booking holds a place (or is a walk-in); anything else has nothing to move.
      if (!hold || (hold.status !== 'held' && hold.status !== 'skipped')) return reject('no place held');
      // The same lock and conditional take as a booking's place: never above the capacity.
      const { schedule, version } = await readSchedule(trx, 'shared');
      const slot = slotStartingAt(schedule, start);
      const previous = hold.status === 'held' ? hold.slot_start : null;
      const open = slot !== null && start.getTime() > clock.now().getTime();
      if (open && previous) await lockSlots(trx, [start, previous]);
      const held = open ? await takePlace(trx, start, schedule.capacity) : null;
      if (held === null || !slot) return reject(slot ? 'slot full or begun' : 'not a slot now');
      await trx
        .updateTable('scheduling.holds')
        .set({
          slot_start: start,
          status: 'held',
          schedule_version: version,
          capacity: schedule.capacity,
          held_after: held,
          updated_at: sql<Date>`now()`,
        })
        .where('booking_id', '=', bookingId)
        .execute();
      emit('SlotReserved', {
        slotStart: formatIst(slot.start),
        slotEnd: formatIst(slot.end),
        scheduleVersion: version,
        cause: 'reschedule',
        previousSlotStart: previous ? formatIst(previous) : null,
      });
      // The old place goes back to the slot it was taken in, in the same transaction: once.
      if (previous) {
        await givePlaceBack(trx, previous);
        emit('SlotReleased', { slotStart: formatIst(previous), cause: 'reschedule' });
      }
      logger.info('booking moved', {
        slotStart: formatIst(slot.start),
        previousSlotStart: previous ? formatIst(previous) : null,
        held,
      });
    },
    CompensationTriggered: release,
    BookingRejected: release,
    // A cancelled booking's place goes back to its slot, once.
    CancellationRequested: release,
  };
}
