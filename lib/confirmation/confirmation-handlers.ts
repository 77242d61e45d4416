import nodemailer from 'nodemailer';
import { sql } from 'kysely';
import { twoStep, type Handlers } from '../bus/consumer.js';
import type { Event } from '../events/catalogue.js';
import { logger } from '../logger.js';
import { RetryLaterError } from '../transient-errors.js';
import { formatInr } from '../money.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  /** Stable per booking: a resent message is the same message to the mail server and the patient's client. */
  messageId: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
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
        send: async (message) => void logger.info('confirmation message (no SMTP_URL set)', message),
      },
      close: () => {},
    };
  }
  // Short timeouts: a mail server that does not answer is "down" (retried), not a hung handler.
  const transport = nodemailer.createTransport(smtpUrl, {
    connectionTimeout: 5_000,
    greetingTimeout: 5_000,
    socketTimeout: 10_000,
  });
  return {
    channel: 'email',
    mailer: { send: async (message) => void (await transport.sendMail({ from, ...message })) },
    close: () => transport.close(),
  };
}

/** Longer than a send can take (the transport's timeouts add up to 20 s). */
const SEND_LEASE_MS = 30_000;

export function confirmationMessage(event: Event<'BookingConfirmed'>): MailMessage {
  const { reference, finalPaise, patient } = event.data;
  return {
    to: patient.email,
    subject: `Booking ${reference} confirmed`,
    text: [
      `Dear ${patient.name},`,
      '',
      `Your booking ${reference} is confirmed. Amount paid: ${formatInr(finalPaise)}.`,
      'Please quote this reference at the clinic reception.',
    ].join('\n'),
    messageId: `<confirmation-${event.bookingId}@clinic.example>`,
  };
}

/**
 * Confirmation: one message per confirmed booking, sent outside any transaction. The intent is
 * recorded (`sending`), the mail server called, then `sent` committed with the inbox row. A mail server
 * that is down fails the handler transiently: it is retried while the outage lasts, never dead-lettered.
 * A crash after the server accepted the message and before `sent` committed sends it again, with the
 * same Message-ID (at least once, in that window only).
 */
export function confirmationHandlers({
  mailer,
  channel,
}: {
  mailer: Mailer;
  channel: 'email' | 'log';
}): Handlers {
  return {
    BookingConfirmed: twoStep<'BookingConfirmed', boolean>(
      async (event, db) => {
        const bookingId = event.bookingId as string;
        const message = confirmationMessage(event);
        // The intent, and a lease on it: two deliveries of one confirmation (a claim, a re-drive) never
        // send side by side; a sender that died leaves a lease that runs out.
        const intent = await db
          .insertInto('confirmation.confirmations')
          .values({
            booking_id: bookingId,
            channel,
            recipient: message.to,
            status: 'sending',
            message_id: message.messageId,
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
          .returning('attempts')
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
          await mailer.send(message);
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
      async (event, { trx }, sentNow) => {
        if (!sentNow) return;
        await trx
          .updateTable('confirmation.confirmations')
          .set({ status: 'sent', sent_at: sql<Date>`now()`, lease_until: null })
          .where('booking_id', '=', event.bookingId as string)
          .execute();
        logger.info('confirmation sent', { channel, reference: event.data.reference });
      },
    ),
  };
}
