import { sql } from 'kysely';
import { twoStepInOneStatement, type Handlers } from '../bus/consumer.js';
import { logger } from '../logger.js';
import type { Event } from '../events/catalogue.js';
import type { Clinic } from '../receipt/receipt.js';
import { RetryLaterError } from '../transient-errors.js';
import { bookingReceiptJson, toBookingReceipt } from '../receipt/receipt-repository.js';
import { cancellationFor, confirmationFor, rescheduleFor } from './booking-messages.js';
import { confirmationMessageId } from './confirmation-message.js';
import type { MailChannel, Mailer } from './mailer.js';

/** Longer than a send can take (the transport's timeouts add up to 20 s). */
const SEND_LEASE_MS = 30_000;

/**
 * Confirmation: one message per confirmed booking, sent outside any transaction. The intent is
 * recorded (`sending`), the mail server called, then `sent` committed with the inbox row. A mail server
 * that is down fails the handler transiently: it is retried while the outage lasts, never dead-lettered.
 * A crash after the server accepted the message and before `sent` committed sends it again, with the
 * same Message-ID (at least once, in that window only). A reschedule's and a cancellation's email go
 * the same way.
 */
export function confirmationHandlers({
  mailer,
  channel,
  clinic,
  from,
}: {
  mailer: Mailer;
  channel: MailChannel;
  clinic: Clinic;
  from: string;
}): Handlers {
  return {
    BookingConfirmed: twoStepInOneStatement<'BookingConfirmed', boolean>(
      async (event, db) => {
        const bookingId = event.bookingId as string;
        // The intent, and a lease on it: two deliveries of one confirmation (a claim, a re-drive) never
        // send side by side; a sender that died leaves a lease that runs out. The statement that takes it
        // reads what the message is made of.
        const intent = await db
          .insertInto('confirmation.confirmations')
          .values({
            booking_id: bookingId,
            channel,
            recipient: event.data.patient.email,
            status: 'sending',
            message_id: confirmationMessageId(bookingId),
            lease_until: sql<Date>`now() + ${SEND_LEASE_MS} * interval '1 millisecond'`,
          })
          .onConflict((conflict) =>
            conflict
              .column('booking_id')
              .doUpdateSet({
                attempts: sql<number>`confirmation.confirmations.attempts + 1`,
                lease_until: sql<Date>`now() + ${SEND_LEASE_MS} * interval '1 millisecond'`,
              })
              .where('confirmation.confirmations.status', '=', 'sending')
              .where((eb) =>
                eb.or([
                  eb('confirmation.confirmations.lease_until', 'is', null),
                  eb('confirmation.confirmations.lease_until', '<', sql<Date>`now()`),
                ]),
              ),
          )
          .returning(['attempts', bookingReceiptJson(bookingId).as('booking')])
          .executeTakeFirst();
        if (!intent) {
          const current = await db
            .selectFrom('confirmation.confirmations')
            .select('status')
            .where('booking_id', '=', bookingId)
            .executeTakeFirstOrThrow();
          if (current.status === 'sent') return false;
          throw new RetryLaterError('another delivery of this confirmation is sending it');
        }
        if (intent.attempts > 1) logger.warn('confirmation send retried', { attempts: intent.attempts });
        try {
          const booking = intent.booking ? toBookingReceipt(intent.booking) : null;
          await mailer.send(await confirmationFor(booking, event, { clinic, from }));
          logger.info('confirmation sent', { channel, reference: event.data.reference });
        } catch (error) {
          // Not sent: the next attempt need not wait for the lease.
          await db
            .updateTable('confirmation.confirmations')
            .set({ lease_until: null })
            .where('booking_id', '=', bookingId)
            .where('status', '=', 'sending')
            .execute()
            .catch(() => {});
          throw error;
        }
        return true;
      },
      (event, sentNow) =>
        sentNow
          ? sql`UPDATE confirmation.confirmations SET status = 'sent', sent_at = now(), lease_until = NULL
              WHERE booking_id = ${event.bookingId} AND EXISTS (SELECT 1 FROM fresh)`
          : NOTHING,
    ),
    // One email per move, keyed by its invite SEQUENCE: a redelivery finds it sent.
    BookingRescheduled: twoStepInOneStatement<'BookingRescheduled', boolean>(
      async (event, db) => {
        const message = await rescheduleFor(event, { clinic, from });
        const intent = await db
          .insertInto('confirmation.notices')
          .values({
            booking_id: event.bookingId as string,
            kind: 'reschedule',
            sequence: event.data.inviteSequence,
            channel,
            recipient: message.to,
            status: 'sending',
            message_id: message.messageId,
          })
          .onConflict((conflict) =>
            conflict
              .columns(['booking_id', 'kind', 'sequence'])
              .doUpdateSet({ attempts: sql<number>`confirmation.notices.attempts + 1` })
              .where('confirmation.notices.status', '=', 'sending'),
          )
          .returning('attempts')
          .executeTakeFirst();
        if (!intent) return false;
        await mailer.send(message);
        logger.info('reschedule notice sent', { channel, reference: event.data.reference });
        return true;
      },
      (event, sentNow) => (sentNow ? noticeSent(event, 'reschedule') : NOTHING),
    ),
    BookingCancelled: twoStepInOneStatement<'BookingCancelled', boolean>(
      async (event, db) => {
        const bookingId = event.bookingId as string;
        const message = await cancellationFor(db, event, { clinic, from });
        const key = {
          booking_id: bookingId,
          kind: 'cancellation' as const,
          sequence: event.data.inviteSequence,
        };
        const intent = await db
          .insertInto('confirmation.notices')
          .values({
            ...key,
            channel,
            recipient: message.to,
            status: 'sending',
            message_id: message.messageId,
          })
          .onConflict((conflict) =>
            conflict
              .columns(['booking_id', 'kind', 'sequence'])
              .doUpdateSet({ attempts: sql<number>`confirmation.notices.attempts + 1` })
              .where('confirmation.notices.status', '=', 'sending'),
          )
          .returning('attempts')
          .executeTakeFirst();
        if (!intent) return false;
        await mailer.send(message);
        logger.info('cancellation sent', { channel, reference: event.data.reference });
        return true;
      },
      (event, sentNow) => (sentNow ? noticeSent(event, 'cancellation') : NOTHING),
    ),
  };
}

/** An inside with nothing to write: the message was sent before, only the inbox row is recorded. */
const NOTHING = sql`SELECT 1`;

/** A reschedule or cancellation notice marked sent, for a fresh event only (see twoStepInOneStatement). */
function noticeSent(
  event: Event<'BookingRescheduled' | 'BookingCancelled'>,
  kind: 'reschedule' | 'cancellation',
) {
  return sql`UPDATE confirmation.notices SET status = 'sent', sent_at = now()
    WHERE booking_id = ${event.bookingId} AND kind = ${kind} AND sequence = ${event.data.inviteSequence}
      AND EXISTS (SELECT 1 FROM fresh)`;
}
