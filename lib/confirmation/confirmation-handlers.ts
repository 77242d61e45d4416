import { sql } from 'kysely';
import { twoStep, type Handlers } from '../bus/consumer.js';
import { logger } from '../logger.js';
import type { Clinic } from '../receipt/receipt.js';
import { cancellationFor, confirmationFor } from './booking-messages.js';
import type { MailChannel, Mailer } from './mailer.js';

/**
 * Confirmation: one message per confirmed booking, sent outside any transaction. The intent is
 * recorded (`sending`), the mail server called, then `sent` committed with the inbox row. A mail server
 * that is down fails the handler transiently: it is retried while the outage lasts, never dead-lettered.
 * A crash after the server accepted the message and before `sent` committed sends it again, with the
 * same Message-ID (at least once, in that window only). A cancellation's email goes the same way.
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
    BookingConfirmed: twoStep<'BookingConfirmed', boolean>(
      async (event, db) => {
        const bookingId = event.bookingId as string;
        const message = await confirmationFor(db, event, { clinic, from });
        const intent = await db
          .insertInto('confirmation.confirmations')
          .values({
            booking_id: bookingId,
            channel,
            recipient: message.to,
            status: 'sending',
            message_id: message.messageId,
          })
          .onConflict((conflict) =>
            conflict
              .column('booking_id')
              .doUpdateSet({ attempts: sql<number>`confirmation.confirmations.attempts + 1` })
              .where('confirmation.confirmations.status', '=', 'sending'),
          )
          .returning('attempts')
          .executeTakeFirst();
        // No row returned: the conflict's row is `sent` already.
        if (!intent) return false;
        if (intent.attempts > 1) logger.warn('confirmation send retried', { attempts: intent.attempts });
        await mailer.send(message);
        return true;
      },
      async (event, { trx }, sentNow) => {
        if (!sentNow) return;
        await trx
          .updateTable('confirmation.confirmations')
          .set({ status: 'sent', sent_at: sql<Date>`now()` })
          .where('booking_id', '=', event.bookingId as string)
          .execute();
        logger.info('confirmation sent', { channel, reference: event.data.reference });
      },
    ),
    BookingCancelled: twoStep<'BookingCancelled', boolean>(
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
        return true;
      },
      async (event, { trx }, sentNow) => {
        if (!sentNow) return;
        await trx
          .updateTable('confirmation.notices')
          .set({ status: 'sent', sent_at: sql<Date>`now()` })
          .where('booking_id', '=', event.bookingId as string)
          .where('kind', '=', 'cancellation')
          .where('sequence', '=', event.data.inviteSequence)
          .execute();
        logger.info('cancellation sent', { channel, reference: event.data.reference });
      },
    ),
  };
}
