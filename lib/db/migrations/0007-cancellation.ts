import { sql, type Kysely } from 'kysely';

// A confirmed booking being changed: what was asked, by whom, and what the change still waits for.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE booking.bookings
      ADD COLUMN change text CHECK (change IN ('cancelling')),
      ADD COLUMN change_reason text,
      ADD COLUMN change_actor text,
      ADD COLUMN change_requested_at timestamptz,
      ADD COLUMN change_idempotency_key text,
      ADD COLUMN invite_sequence integer NOT NULL DEFAULT 0;

    -- Emails after the confirmation (a cancellation), each once.
    CREATE TABLE confirmation.notices (
      booking_id uuid NOT NULL,
      kind text NOT NULL CHECK (kind IN ('cancellation')),
      sequence integer NOT NULL,
      channel text NOT NULL CHECK (channel IN ('email', 'file', 'log')),
      recipient text NOT NULL,
      -- Written 'sending' before the mail server is called and 'sent' after, as confirmations are.
      status text NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent')),
      attempts integer NOT NULL DEFAULT 1,
      message_id text,
      sent_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (booking_id, kind, sequence)
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TABLE confirmation.notices;
    ALTER TABLE booking.bookings
      DROP COLUMN change, DROP COLUMN change_reason, DROP COLUMN change_actor,
      DROP COLUMN change_requested_at, DROP COLUMN change_idempotency_key, DROP COLUMN invite_sequence;
  `.execute(db);
}
