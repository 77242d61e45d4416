import { sql } from 'kysely';
import { appendToOutbox } from '../bus/outbox.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import { ConflictError, ValidationError } from '../errors.js';
import { createEvent } from '../events/catalogue.js';
import type { PublicUser } from '../identity/user-service.js';
import { formatIst } from '../scheduling/slot-rules.js';
import { bookableSlot } from './booking-service.js';
import { lockForChange, type ChangeAccepted } from './change-request.js';

export interface RescheduleRequest {
  bookingId: string;
  by: PublicUser;
  /** The new slot's start (ISO with offset), one the schedule offers now. */
  slotStart: string;
  reason: string | null;
  idempotencyKey?: string | undefined;
}

export type RescheduleAccepted = ChangeAccepted;

/**
 * Starts moving a confirmed booking to another slot: under the booking's row lock, so of two
 * concurrent changes (two reschedules, a reschedule and a cancel) one starts and the others are
 * refused until it is settled; the change, its timeline entry and `RescheduleRequested` commit together.
 * Whether the new slot still has a place is the scheduling participant's to decide.
 */
export async function requestReschedule(
  db: Db,
  request: RescheduleRequest,
  options: { clock: Clock; cutoffMinutes: number; redriveAfterMs: number },
): Promise<RescheduleAccepted> {
  return db.transaction().execute(async (trx) => {
    const opened = await lockForChange(trx, request, options);
    if ('replayed' in opened) return opened.replayed;
    const { booking, accepted, now, verdict } = opened;
    if (verdict === 'not_changeable') {
      throw new ConflictError(
        booking.change === 'cancelling' || booking.status === 'CANCELLED'
          ? 'This booking is cancelled or being cancelled.'
          : booking.change === 'rescheduling'
            ? 'This booking is being moved already; wait for that to finish.'
            : 'Only a confirmed booking can be rescheduled.',
        'not_changeable',
      );
    }
    if (verdict === 'too_late') {
      throw new ConflictError('It is too late to reschedule this booking.', 'too_late_to_change');
    }
    const slot = await bookableSlot(trx, new Date(request.slotStart), now);
    if (booking.slot_start && booking.slot_start.getTime() === slot.start.getTime()) {
      throw new ValidationError(
        'The booking is at that time already.',
        [{ path: 'slotStart', message: 'choose a time other than the current one' }],
        422,
      );
    }
    const event = createEvent(
      'RescheduleRequested',
      {
        reference: booking.reference,
        slotStart: formatIst(slot.start),
        previousSlotStart: booking.slot_start ? formatIst(booking.slot_start) : null,
        reason: request.reason,
        requestedBy: request.by.role === 'admin' ? 'admin' : 'patient',
        actor: request.by.email,
      },
      { bookingId: booking.id, correlationId: booking.correlation_id, causationId: null },
      now,
    );
    await trx
      .updateTable('booking.bookings')
      .set({
        change: 'rescheduling',
        change_reason: request.reason,
        change_actor: request.by.email,
        change_requested_at: now,
        change_idempotency_key: request.idempotencyKey ?? null,
        change_slot_start: slot.start,
        change_event_id: event.eventId,
        updated_at: sql<Date>`now()`,
        // The booking participant asks again if the slot decision is never heard of.
        redrives: 0,
        redrive_at: new Date(now.getTime() + options.redriveAfterMs),
      })
      .where('id', '=', booking.id)
      .execute();
    await trx
      .insertInto('booking.timeline')
      .values({ booking_id: booking.id, event_id: event.eventId, type: event.type, occurred_at: now })
      .execute();
    await appendToOutbox(trx, [event]);
    return { booking: accepted, created: true };
  });
}
