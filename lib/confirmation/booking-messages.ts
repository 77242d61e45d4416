import type { Db, Trx } from '../db/database.js';
import type { Event } from '../events/catalogue.js';
import { istDate } from '../clock.js';
import { receiptDocument, type Clinic } from '../receipt/receipt.js';
import { renderReceiptPdf } from '../receipt/receipt-pdf.js';
import type { BookingReceipt } from '../receipt/receipt-repository.js';
import { composeCancellation, composeConfirmation, composeReschedule } from './confirmation-message.js';
import type { MailMessage } from './mailer.js';
import { findVisit, visitOf } from './visit.js';

export interface MessageOptions {
  clinic: Clinic;
  /** MAIL_FROM, the invite's organizer. */
  from: string;
}

/**
 * The confirmation email of a booking, from what the booking participant committed with
 * BookingConfirmed (its receipt and visit; null: no such booking), read but never written here.
 */
export async function confirmationFor(
  booking: BookingReceipt | null,
  event: Event<'BookingConfirmed'>,
  options: MessageOptions,
): Promise<MailMessage> {
  const document = booking?.receipt ? receiptDocument(booking.receipt, options.clinic) : null;
  return composeConfirmation({
    bookingId: event.bookingId as string,
    reference: event.data.reference,
    patient: event.data.patient,
    amountPaise: event.data.finalPaise,
    receipt: document ? { document, pdf: await renderReceiptPdf(document) } : null,
    visit: booking ? visitOf(booking) : { walkInDay: istDate(new Date(event.occurredAt)) },
    clinic: options.clinic,
    from: options.from,
    sequence: 0,
    at: new Date(event.occurredAt),
  });
}

/** The cancellation email of a booking, with the refund and the invite withdrawn. */
export async function cancellationFor(
  db: Db | Trx,
  event: Event<'BookingCancelled'>,
  options: MessageOptions,
): Promise<MailMessage> {
  const bookingId = event.bookingId as string;
  return composeCancellation({
    bookingId,
    reference: event.data.reference,
    patient: event.data.patient,
    refundPaise: event.data.refundPaise,
    reason: event.data.reason,
    visit: (await findVisit(db, bookingId)) ?? { walkInDay: istDate(new Date(event.occurredAt)) },
    clinic: options.clinic,
    from: options.from,
    sequence: event.data.inviteSequence,
    at: new Date(event.occurredAt),
  });
}

/** The email of a moved visit, from what BookingRescheduled carries (a later move may follow it). */
export function rescheduleFor(
  event: Event<'BookingRescheduled'>,
  options: MessageOptions,
): Promise<MailMessage> {
  return composeReschedule({
    bookingId: event.bookingId as string,
    reference: event.data.reference,
    patient: event.data.patient,
    previous: event.data.previous ? { appointment: event.data.previous } : null,
    visit: { appointment: event.data.appointment },
    reason: event.data.reason,
    clinic: options.clinic,
    from: options.from,
    sequence: event.data.inviteSequence,
    at: new Date(event.occurredAt),
  });
}
