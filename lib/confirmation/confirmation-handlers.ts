import nodemailer from 'nodemailer';
import type { Handlers } from '../bus/consumer.js';
import { logger, personalDataNeeded } from '../logger.js';
import { formatInr } from '../money.js';

export interface Mailer {
  send(message: { to: string; subject: string; text: string }): Promise<void>;
}

/** Email over SMTP when SMTP_URL is set; otherwise the message is written to the log. */
export function createMailer(
  smtpUrl: string | undefined,
  from: string,
): { channel: 'email' | 'log'; mailer: Mailer; close(): void } {
  if (!smtpUrl) {
    return {
      channel: 'log',
      mailer: {
        send: async (message) =>
          void logger.info('confirmation message (no SMTP_URL set)', {
            ...message,
            [personalDataNeeded]: true,
          }),
      },
      close: () => {},
    };
  }
  const transport = nodemailer.createTransport(smtpUrl);
  return {
    channel: 'email',
    mailer: { send: async (message) => void (await transport.sendMail({ from, ...message })) },
    close: () => transport.close(),
  };
}

/**
 * Confirmation: one message per confirmed booking. The row is written first; if sending fails the
 * transaction rolls back and the event is retried, so a message is sent once per commit.
 */
export function confirmationHandlers({
  mailer,
  channel,
}: {
  mailer: Mailer;
  channel: 'email' | 'log';
}): Handlers {
  return {
    BookingConfirmed: async (event, { trx }) => {
      const { reference, finalPaise, patient } = event.data;
      const inserted = await trx
        .insertInto('confirmation.confirmations')
        .values({ booking_id: event.bookingId as string, channel, recipient: patient.email })
        .onConflict((conflict) => conflict.doNothing())
        .returning('booking_id')
        .executeTakeFirst();
      if (!inserted) return;
      await mailer.send({
        to: patient.email,
        subject: `Booking ${reference} confirmed`,
        text: [
          `Dear ${patient.name},`,
          '',
          `Your booking ${reference} is confirmed. Amount paid: ${formatInr(finalPaise)}.`,
          'Please quote this reference at the clinic reception.',
        ].join('\n'),
      });
      logger.info('confirmation sent', { channel, reference });
    },
  };
}
