import type { Handlers } from '../bus/consumer.js';
import { logger } from '../logger.js';
import type { Clinic } from '../receipt/receipt.js';
import { cancellationFor, confirmationFor } from './booking-messages.js';
import type { MailChannel, Mailer } from './mailer.js';

/**
 * Confirmation: one message per confirmed booking. The row is written first; if sending fails the
 * transaction rolls back and the event is retried, so a message is sent once per commit.
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
    BookingConfirmed: async (event, { trx }) => {
      const { reference, patient } = event.data;
      const inserted = await trx
        .insertInto('confirmation.confirmations')
        .values({ booking_id: event.bookingId as string, channel, recipient: patient.email })
        .onConflict((conflict) => conflict.doNothing())
        .returning('booking_id')
        .executeTakeFirst();
      if (!inserted) return;
      await mailer.send(await confirmationFor(trx, event, { clinic, from }));
      logger.info('confirmation sent', { channel, reference });
    },
    BookingCancelled: async (event, { trx }) => {
      const { reference, patient, inviteSequence } = event.data;
      const inserted = await trx
        .insertInto('confirmation.notices')
        .values({
          booking_id: event.bookingId as string,
          kind: 'cancellation',
          sequence: inviteSequence,
          channel,
          recipient: patient.email,
        })
        .onConflict((conflict) => conflict.doNothing())
        .returning('booking_id')
        .executeTakeFirst();
      if (!inserted) return;
      await mailer.send(await cancellationFor(trx, event, { clinic, from }));
      logger.info('cancellation sent', { channel, reference });
    },
  };
}
