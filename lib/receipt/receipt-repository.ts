import { sql } from 'kysely';
import { istDate } from '../clock.js';
import type { Db, Trx } from '../db/database.js';
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

/** The receipt of a booking with what it shows, or null when the booking has none (not confirmed). */
export async function findReceipt(db: Db | Trx, bookingId: string): Promise<ReceiptRecord | null> {
  const row = await db
    .selectFrom('booking.receipts as r')
    .innerJoin('booking.bookings as b', 'b.id', 'r.booking_id')
    .select([
      'r.booking_id',
      'r.number',
      'r.issued_on',
      'r.amount_paise',
      'r.payment_reference',
      'r.refunded_paise',
      'r.refund_reference',
      'r.refunded_at',
      'b.user_id',
      'b.reference',
      'b.patient_name',
      'b.patient_phone',
      'b.patient_email',
      'b.base_paise',
      'b.discount_basis_points',
      'b.discount_paise',
    ])
    .where('r.booking_id', '=', bookingId)
    .executeTakeFirst();
  if (!row) return null;
  const lines = await db
    .selectFrom('booking.booking_services')
    .select(['name', 'price_paise'])
    .where('booking_id', '=', bookingId)
    .orderBy('position')
    .execute();
  const applied = row.discount_paise ?? 0;
  return {
    bookingId: row.booking_id,
    userId: row.user_id,
    number: row.number,
    issuedOn: row.issued_on,
    bookingReference: row.reference,
    patient: { name: row.patient_name, phone: row.patient_phone, email: row.patient_email },
    services: lines.map((line) => ({ name: line.name, pricePaise: line.price_paise ?? 0 })),
    basePaise: row.base_paise ?? row.amount_paise,
    discountBasisPoints: applied > 0 ? (row.discount_basis_points ?? 0) : 0,
    discountPaise: applied,
    amountPaise: row.amount_paise,
    paymentReference: row.payment_reference,
    refund:
      row.refunded_paise === null || row.refund_reference === null || row.refunded_at === null
        ? null
        : {
            amountPaise: row.refunded_paise,
            reference: row.refund_reference,
            refundedOn: istDate(row.refunded_at),
          },
  };
}
