import { sql } from 'kysely';
import { istDate } from '../clock.js';
import type { Db, Trx } from '../db/database.js';
import type { ReceiptRecord } from './receipt.js';
import { financialYear, formatReceiptNumber } from './receipt-number.js';

/**
 * Issues the booking's receipt in the caller's (confirming) transaction, once: the year's counter row
 * is incremented under its row lock, so numbers follow each other without gaps and a rollback gives
 * its number back. The caller holds the booking's row lock, so a booking never gets two.
 */
export async function issueReceipt(
  trx: Trx,
  receipt: { bookingId: string; amountPaise: number; paymentReference: string; at: Date },
): Promise<string> {
  const existing = await trx
    .selectFrom('booking.receipts')
    .select('number')
    .where('booking_id', '=', receipt.bookingId)
    .executeTakeFirst();
  if (existing) return existing.number;
  const issuedOn = istDate(receipt.at);
  const year = financialYear(issuedOn);
  const { last_number: sequence } = await trx
    .insertInto('booking.receipt_counters')
    .values({ financial_year: year, last_number: 1 })
    .onConflict((conflict) =>
      conflict
        .column('financial_year')
        .doUpdateSet({ last_number: sql<number>`booking.receipt_counters.last_number + 1` }),
    )
    .returning('last_number')
    .executeTakeFirstOrThrow();
  const number = formatReceiptNumber(year, sequence);
  await trx
    .insertInto('booking.receipts')
    .values({
      booking_id: receipt.bookingId,
      number,
      financial_year: year,
      sequence,
      issued_at: receipt.at,
      issued_on: issuedOn,
      amount_paise: receipt.amountPaise,
      payment_reference: receipt.paymentReference,
      refunded_paise: null,
      refund_reference: null,
      refunded_at: null,
    })
    .execute();
  return number;
}

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
