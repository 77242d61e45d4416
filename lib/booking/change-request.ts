import type { Clock } from '../clock.js';
import type { Trx } from '../db/database.js';
import type { Booking } from '../db/schema.js';
import { NotFoundError } from '../errors.js';
import type { PublicUser } from '../identity/user-service.js';
import { changeability, changeDeadline } from './change-rules.js';

export interface ChangeAccepted {
  booking: { id: string; reference: string; status: string; correlationId: string };
  /** False when a retried request (same Idempotency-Key) found the change already asked for. */
  created: boolean;
}

/**
 * The start of a change to a confirmed booking (a cancel or a reschedule), under the booking's row
 * lock, so of two concurrent changes one starts and the others are refused until it is settled.
 * Another patient's booking is a 404; a retried request is answered as it was; otherwise the caller
 * gets the locked booking, the time, and whether it may still change (the cutoff is the current
 * appointment's).
 */
export async function lockForChange(
  trx: Trx,
  request: { bookingId: string; by: PublicUser; idempotencyKey?: string | undefined },
  options: { clock: Clock; cutoffMinutes: number },
): Promise<
  | { replayed: ChangeAccepted }
  | {
      booking: Booking;
      accepted: ChangeAccepted['booking'];
      now: Date;
      verdict: ReturnType<typeof changeability>;
    }
> {
  const booking = await trx
    .selectFrom('booking.bookings')
    .selectAll()
    .where('id', '=', request.bookingId)
    .forUpdate()
    .executeTakeFirst();
  // Another patient's booking is indistinguishable from a missing one.
  if (!booking || (booking.user_id !== request.by.id && request.by.role !== 'admin')) {
    throw new NotFoundError('No such booking.');
  }
  const accepted = {
    id: booking.id,
    reference: booking.reference,
    status: booking.status,
    correlationId: booking.correlation_id,
  };
  if (request.idempotencyKey && booking.change_idempotency_key === request.idempotencyKey) {
    return { replayed: { booking: accepted, created: false } };
  }
  const now = options.clock.now();
  const deadline = changeDeadline({
    appointmentStart: booking.slot_start,
    bookedAt: booking.created_at,
    cutoffMinutes: options.cutoffMinutes,
  });
  const verdict = changeability({ status: booking.status, change: booking.change, now, deadline });
  return { booking, accepted, now, verdict };
}
