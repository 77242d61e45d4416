import { expressionBuilder, sql, type RawBuilder } from 'kysely';
import { jsonObjectFrom } from 'kysely/helpers/postgres';
import { istDate } from '../clock.js';
import type { Db, Trx } from '../db/database.js';
import type { Database } from '../db/schema.js';
import type { ReceiptRecord } from './receipt.js';
import { financialYear, receiptNumberPrefix, SEQUENCE_DIGITS } from './receipt-number.js';

/**
 * Issues the booking's receipt in the caller's (confirming) transaction, once, in one statement: the
 * year's counter row is incremented under its row lock, so numbers follow each other without gaps and
 * a rollback gives its number back. A booking that has its receipt gets it back and takes no number.
 */
export async function issueReceipt(
  trx: Trx,
  receipt: { bookingId: string; amountPaise: number; paymentReference: string; at: Date },
): Promise<string> {
  const issuedOn = istDate(receipt.at);
  const year = financialYear(issuedOn);
  // The select list of INSERT ... SELECT gives its parameters no type: each is cast to its column's.
  const { rows } = await sql<{ number: string }>`
    WITH existing AS (
      SELECT number FROM booking.receipts WHERE booking_id = ${receipt.bookingId}
    ), counter AS (
      INSERT INTO booking.receipt_counters AS c (financial_year, last_number)
      SELECT ${year}::text, 1 WHERE NOT EXISTS (SELECT FROM existing)
      ON CONFLICT (financial_year) DO UPDATE SET last_number = c.last_number + 1
      RETURNING last_number
    ), issued AS (
      INSERT INTO booking.receipts
        (booking_id, number, financial_year, sequence, issued_at, issued_on, amount_paise, payment_reference)
      SELECT ${receipt.bookingId}::uuid, ${numberOf(year)}, ${year}::text, last_number,
        ${receipt.at}::timestamptz, ${issuedOn}::date, ${receipt.amountPaise}::integer,
        ${receipt.paymentReference}::text
      FROM counter
      RETURNING number
    )
    SELECT number FROM issued UNION ALL SELECT number FROM existing`.execute(trx);
  const [issued] = rows;
  if (!issued) throw new Error(`no receipt issued for booking ${receipt.bookingId}`);
  return issued.number;
}

/** formatReceiptNumber in SQL, of the sequence the counter returned (`last_number`). */
const numberOf = (year: string) =>
  sql<string>`${receiptNumberPrefix(year)}::text
    || lpad(last_number::text, greatest(${sql.lit(SEQUENCE_DIGITS)}, length(last_number::text)), '0')`;

/** Notes a refund on the receipt (a booking without a receipt was never confirmed: nothing to note). */
export async function recordRefund(
  trx: Trx,
  refund: { bookingId: string; amountPaise: number; reference: string; at: Date },
): Promise<void> {
  await trx
    .updateTable('booking.receipts')
    .set({ refunded_paise: refund.amountPaise, refund_reference: refund.reference, refunded_at: refund.at })
    .where('booking_id', '=', refund.bookingId)
    .where('refunded_paise', 'is', null)
    .execute();
}

/** A booking as its confirmation reads it: its receipt (null: not confirmed) and where its visit is. */
export interface BookingReceipt {
  receipt: ReceiptRecord | null;
  createdAt: Date;
  slotStart: Date | null;
  slotEnd: Date | null;
}

/**
 * The booking with its receipt (null without one) and its services in order, as one JSON object (null:
 * no such booking): a value any statement can read beside what it does (see toBookingReceipt).
 */
export function bookingReceiptJson(bookingId: string) {
  const eb = expressionBuilder<Database, never>();
  return jsonObjectFrom(
    eb
      .selectFrom('booking.bookings as b')
      .select((booking) => [
        'b.id',
        'b.user_id',
        'b.reference',
        'b.patient_name',
        'b.patient_phone',
        'b.patient_email',
        'b.base_paise',
        'b.discount_basis_points',
        'b.discount_paise',
        'b.created_at',
        'b.slot_start',
        'b.slot_end',
        jsonObjectFrom(
          booking
            .selectFrom('booking.receipts as r')
            .select([
              'r.number',
              'r.issued_on',
              'r.amount_paise',
              'r.payment_reference',
              'r.refunded_paise',
              'r.refund_reference',
              'r.refunded_at',
            ])
            .whereRef('r.booking_id', '=', 'b.id'),
        ).as('receipt'),
        sql<{ name: string; price_paise: number | null }[]>`(
          SELECT coalesce(json_agg(json_build_object('name', line.name, 'price_paise', line.price_paise)
            ORDER BY line.position), '[]')
          FROM booking.booking_services line WHERE line.booking_id = b.id)`.as('services'),
      ])
      .where('b.id', '=', bookingId),
  );
}

type BookingReceiptJson =
  ReturnType<typeof bookingReceiptJson> extends RawBuilder<infer O> ? NonNullable<O> : never;

/** What bookingReceiptJson read: the receipt and the visit's times (JSON gives timestamps as text). */
export function toBookingReceipt(json: BookingReceiptJson): BookingReceipt {
  return {
    receipt: json.receipt ? toReceiptRecord(json, json.receipt) : null,
    createdAt: new Date(json.created_at),
    slotStart: json.slot_start === null ? null : new Date(json.slot_start),
    slotEnd: json.slot_end === null ? null : new Date(json.slot_end),
  };
}

function toReceiptRecord(
  booking: BookingReceiptJson,
  receipt: NonNullable<BookingReceiptJson['receipt']>,
): ReceiptRecord {
  const applied = booking.discount_paise ?? 0;
  return {
    bookingId: booking.id,
    userId: booking.user_id,
    number: receipt.number,
    issuedOn: receipt.issued_on,
    bookingReference: booking.reference,
    patient: { name: booking.patient_name, phone: booking.patient_phone, email: booking.patient_email },
    services: booking.services.map((line) => ({ name: line.name, pricePaise: line.price_paise ?? 0 })),
    basePaise: booking.base_paise ?? receipt.amount_paise,
    discountBasisPoints: applied > 0 ? (booking.discount_basis_points ?? 0) : 0,
    discountPaise: applied,
    amountPaise: receipt.amount_paise,
    paymentReference: receipt.payment_reference,
    refund:
      receipt.refunded_paise === null || receipt.refund_reference === null || receipt.refunded_at === null
        ? null
        : {
            amountPaise: receipt.refunded_paise,
            reference: receipt.refund_reference,
            refundedOn: istDate(new Date(receipt.refunded_at)),
          },
  };
}

/** The receipt of a booking with what it shows, or null when the booking has none (not confirmed). */
export async function findReceipt(db: Db | Trx, bookingId: string): Promise<ReceiptRecord | null> {
  const { booking } = await db
    .selectNoFrom(bookingReceiptJson(bookingId).as('booking'))
    .executeTakeFirstOrThrow();
  return booking ? toBookingReceipt(booking).receipt : null;
}
