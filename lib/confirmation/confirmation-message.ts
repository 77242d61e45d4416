import path from 'node:path';
import ejs from 'ejs';
import { formatInr } from '../money.js';
import { amountInWords } from '../receipt/amount-in-words.js';
import { projectRoot } from '../paths.js';
import type { Clinic, ReceiptDocument } from '../receipt/receipt.js';
import { formatLongDate } from '../receipt/receipt-format.js';
import { buildInvite, type Visit } from './invite.js';
import type { MailMessage } from './mailer.js';

export interface ConfirmationInput {
  bookingId: string;
  reference: string;
  patient: { name: string; email: string };
  amountPaise: number;
  /** The Bill of Supply and its PDF; null for a booking confirmed before receipts existed. */
  receipt: { document: ReceiptDocument; pdf: Buffer } | null;
  visit: Visit;
  clinic: Clinic;
  /** MAIL_FROM: the invite's organizer. */
  from: string;
  sequence: number;
  at: Date;
}

const istTime = new Intl.DateTimeFormat('en-IN', {
  timeZone: 'Asia/Kolkata',
  hour: 'numeric',
  minute: '2-digit',
  hour12: true,
});
const istDay = new Intl.DateTimeFormat('en-IN', {
  timeZone: 'Asia/Kolkata',
  weekday: 'long',
  day: 'numeric',
  month: 'long',
  year: 'numeric',
});

/** "Tuesday, 1 December 2026, 10:30 am – 10:45 am IST", or the walk-in day. */
export function describeVisit(visit: Visit): string {
  if ('appointment' in visit) {
    const start = new Date(visit.appointment.start);
    const end = new Date(visit.appointment.end);
    return `${istDay.format(start)}, ${istTime.format(start)} – ${istTime.format(end)} IST`;
  }
  const day = new Date(`${visit.walkInDay}T12:00:00+05:30`);
  return `${istDay.format(day)}, walk-in during opening hours`;
}

/** "Clinic <no-reply@clinic.example>" → its name and address (the invite's organizer). */
export function parseMailbox(mailbox: string): { name: string; email: string } {
  const match = /^\s*"?([^"<]*?)"?\s*<([^>]+)>\s*$/.exec(mailbox);
  if (match) return { name: match[1] || (match[2] as string), email: match[2] as string };
  return { name: mailbox.trim(), email: mailbox.trim() };
}

const template = (name: string) => path.join(projectRoot, 'views/emails', `${name}.ejs`);
/** Each email template is read and compiled once per process, not for every message. */
const render = (name: string, data: ejs.Data) => ejs.renderFile(template(name), data, { cache: true });

/** The confirmation email's Message-ID: the same for every attempt, so a mail client shows one. */
export const confirmationMessageId = (bookingId: string) => `<confirmation-${bookingId}@clinic.example>`;

/** The confirmation email: text and HTML, the calendar invite (REQUEST) and the receipt PDF. */
export async function composeConfirmation(input: ConfirmationInput): Promise<MailMessage> {
  const when = describeVisit(input.visit);
  const where = `${input.clinic.name}, ${input.clinic.address}`;
  const receipt = input.receipt?.document ?? null;
  const lines = receipt?.services ?? [];
  const text = [
    `Dear ${input.patient.name},`,
    '',
    `Your booking ${input.reference} at ${input.clinic.name} is confirmed.`,
    '',
    `When: ${when}`,
    `Where: ${where}`,
    '',
    ...(lines.length > 0
      ? ['Services:', ...lines.map((l) => `  ${l.name}: ${formatInr(l.pricePaise)}`)]
      : []),
    ...(receipt && receipt.discountPaise > 0
      ? [`  Discount (${receipt.discountPercent}%): −${formatInr(receipt.discountPaise)}`]
      : []),
    `Amount paid: ${formatInr(input.amountPaise)}${receipt ? ` (${receipt.amountInWords})` : ''}`,
    ...(receipt ? [`Receipt: ${receipt.number}, attached as a PDF (Bill of Supply).`] : []),
    '',
    'The calendar invite is attached. Please quote the reference at the clinic reception.',
  ].join('\n');
  const html = await render('confirmation', {
    ...input,
    receipt,
    when,
    where,
    formatInr,
    formatLongDate,
  });
  return {
    messageId: confirmationMessageId(input.bookingId),
    to: input.patient.email,
    subject: `Booking ${input.reference} confirmed`,
    text,
    html,
    icalEvent: {
      method: 'REQUEST',
      filename: 'invite.ics',
      content: buildInvite({
        bookingId: input.bookingId,
        reference: input.reference,
        visit: input.visit,
        clinic: input.clinic,
        organizer: parseMailbox(input.from),
        attendee: input.patient,
        sequence: input.sequence,
        method: 'REQUEST',
        at: input.at,
      }),
    },
    attachments: input.receipt
      ? [
          {
            filename: `receipt-${input.receipt.document.number.replaceAll('/', '-')}.pdf`,
            content: input.receipt.pdf,
            contentType: 'application/pdf',
          },
        ]
      : [],
  };
}

export interface CancellationInput {
  bookingId: string;
  reference: string;
  patient: { name: string; email: string };
  refundPaise: number;
  reason: string | null;
  visit: Visit;
  clinic: Clinic;
  from: string;
  /** Above the SEQUENCE of every invite sent for the booking, so calendars take it. */
  sequence: number;
  at: Date;
}

/** The cancellation email: text and HTML with the refund, and the invite withdrawn (METHOD:CANCEL). */
export async function composeCancellation(input: CancellationInput): Promise<MailMessage> {
  const when = describeVisit(input.visit);
  const refund = formatInr(input.refundPaise);
  const text = [
    `Dear ${input.patient.name},`,
    '',
    `Your booking ${input.reference} at ${input.clinic.name} (${when}) is cancelled.`,
    ...(input.reason ? [`Reason: ${input.reason}`] : []),
    '',
    `Refund: ${refund} (${amountInWords(input.refundPaise)}), to the card you paid with.`,
    'The visit has been removed from your calendar with the attached update.',
  ].join('\n');
  const html = await render('cancellation', { ...input, when, refund });
  return {
    messageId: `<cancellation-${input.bookingId}-${input.sequence}@clinic.example>`,
    to: input.patient.email,
    subject: `Booking ${input.reference} cancelled: ${refund} refunded`,
    text,
    html,
    icalEvent: {
      method: 'CANCEL',
      filename: 'cancel.ics',
      content: buildInvite({
        bookingId: input.bookingId,
        reference: input.reference,
        visit: input.visit,
        clinic: input.clinic,
        organizer: parseMailbox(input.from),
        attendee: input.patient,
        sequence: input.sequence,
        method: 'CANCEL',
        at: input.at,
      }),
    },
  };
}

export interface RescheduleInput {
  bookingId: string;
  reference: string;
  patient: { name: string; email: string };
  /** The visit before the move (null for a walk-in given a time) and after it. */
  previous: Visit | null;
  visit: Visit;
  reason: string | null;
  clinic: Clinic;
  from: string;
  /** Above the SEQUENCE of every invite sent for the booking, so calendars take the new time. */
  sequence: number;
  at: Date;
}

/** The email of a moved visit: text and HTML with the old and new times, and the updated invite (REQUEST). */
export async function composeReschedule(input: RescheduleInput): Promise<MailMessage> {
  const when = describeVisit(input.visit);
  const previousWhen = input.previous ? describeVisit(input.previous) : null;
  const where = `${input.clinic.name}, ${input.clinic.address}`;
  const text = [
    `Dear ${input.patient.name},`,
    '',
    `Your visit for booking ${input.reference} at ${input.clinic.name} has moved.`,
    '',
    ...(previousWhen ? [`Was: ${previousWhen}`] : []),
    `Now: ${when}`,
    `Where: ${where}`,
    ...(input.reason ? ['', `Reason: ${input.reason}`] : []),
    '',
    'The price is unchanged. The attached invite updates the visit in your calendar.',
  ].join('\n');
  const html = await render('reschedule', { ...input, when, previousWhen, where });
  return {
    messageId: `<reschedule-${input.bookingId}-${input.sequence}@clinic.example>`,
    to: input.patient.email,
    subject: `Booking ${input.reference} moved to ${when}`,
    text,
    html,
    icalEvent: {
      method: 'REQUEST',
      filename: 'invite.ics',
      content: buildInvite({
        bookingId: input.bookingId,
        reference: input.reference,
        visit: input.visit,
        clinic: input.clinic,
        organizer: parseMailbox(input.from),
        attendee: input.patient,
        sequence: input.sequence,
        method: 'REQUEST',
        at: input.at,
      }),
    },
  };
}
