import { sql, type Kysely } from 'kysely';

// Receipts belong to the booking participant: a number is taken in the transaction that confirms.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- One row per financial year, incremented in the confirming transaction: a rollback leaves no gap,
    -- which a sequence would.
    CREATE TABLE booking.receipt_counters (
      financial_year text PRIMARY KEY CHECK (financial_year ~ '^[0-9]{4}-[0-9]{2}$'),
      last_number integer NOT NULL CHECK (last_number > 0)
    );
    CREATE TABLE booking.receipts (
      booking_id uuid PRIMARY KEY REFERENCES booking.bookings (id),
      number text NOT NULL UNIQUE,
      financial_year text NOT NULL,
      sequence integer NOT NULL CHECK (sequence > 0),
      issued_at timestamptz NOT NULL,
      issued_on date NOT NULL,
      amount_paise integer NOT NULL CHECK (amount_paise >= 0),
      payment_reference text NOT NULL,
      refunded_paise integer CHECK (refunded_paise >= 0),
      refund_reference text,
      refunded_at timestamptz,
      UNIQUE (financial_year, sequence)
    );

    ALTER TABLE booking.bookings DROP CONSTRAINT bookings_status_check;
    ALTER TABLE booking.bookings ADD CONSTRAINT bookings_status_check
      CHECK (status IN ('PENDING', 'CONFIRMED', 'REJECTED', 'FAILED', 'CANCELLED'));

    ALTER TABLE confirmation.confirmations DROP CONSTRAINT confirmations_channel_check;
    ALTER TABLE confirmation.confirmations ADD CONSTRAINT confirmations_channel_check
      CHECK (channel IN ('email', 'file', 'log'));
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE confirmation.confirmations DROP CONSTRAINT confirmations_channel_check;
    ALTER TABLE confirmation.confirmations ADD CONSTRAINT confirmations_channel_check
      CHECK (channel IN ('email', 'log'));
    ALTER TABLE booking.bookings DROP CONSTRAINT bookings_status_check;
    ALTER TABLE booking.bookings ADD CONSTRAINT bookings_status_check
      CHECK (status IN ('PENDING', 'CONFIRMED', 'REJECTED', 'FAILED'));
    DROP TABLE booking.receipts, booking.receipt_counters;
  `.execute(db);
}
