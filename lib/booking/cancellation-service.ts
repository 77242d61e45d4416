import { sql } from 'kysely';
import { appendToOutbox } from '../bus/outbox.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import { ConflictError } from '../errors.js';
import { createEvent } from '../events/catalogue.js';
import type { PublicUser } from '../identity/user-service.js';
import { lockForChange, type ChangeAccepted } from './change-request.js';

export interface CancellationRequest {
  bookingId: string;
  by: PublicUser;
  reason: string | null;
  idempotencyKey?: string | undefined;
}

export type CancellationAccepted = ChangeAccepted;

/**
 * Starts the cancellation saga of a confirmed booking: under the booking's row lock, so of two
 * concurrent cancels one starts it and the other is refused; the change, its timeline entry and
 * `CancellationRequested` commit together.
 */
export async function requestCancellation(
  db: Db,
  request: CancellationRequest,
  options: { clock: Clock; cutoffMinutes: number; redriveAfterMs: number },
): Promise<CancellationAccepted> {
  return db.transaction().execute(async (trx) => {
    const opened = await lockForChange(trx, request, options);
    if ('replayed' in opened) return opened.replayed;
    const { booking, accepted, now, verdict } = opened;
    if (verdict === 'not_changeable') {
      throw new ConflictError(
        booking.change === 'cancelling' || booking.status === 'CANCELLED'
          ? 'This booking is already cancelled or being cancelled.'
          : 'Only a confirmed booking can be cancelled.',
        'not_changeable',
      );
    }
    if (verdict === 'too_late') {
      throw new ConflictError('It is too late to cancel this booking.', 'too_late_to_change');
    }
    const event = createEvent(
      'CancellationRequested',
      {
        reference: booking.reference,
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
        change: 'cancelling',
        change_reason: request.reason,
        change_actor: request.by.email,
        change_requested_at: now,
        change_idempotency_key: request.idempotencyKey ?? null,
        updated_at: sql<Date>`now()`,
        // The booking participant asks again if the refund or a release is never heard of.
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
