import { sql, type Kysely } from 'kysely';

// Re-drive of lost work, the simulated gateway's own record of charges, and delivery intents.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Which group emitted a row while handling which event: a redelivered event publishes it again.
    ALTER TABLE bus.outbox ADD COLUMN causation_id uuid, ADD COLUMN producer text;
    CREATE INDEX outbox_caused_by ON bus.outbox (causation_id) WHERE producer IS NOT NULL;
    CREATE INDEX outbox_event_id ON bus.outbox (event_id);
    CREATE INDEX inbox_handled_at ON bus.inbox (handled_at);
    -- How often a group's handler was started for an event delivered more than once.
    CREATE TABLE bus.attempts (
      consumer_group text NOT NULL,
      event_id uuid NOT NULL,
      attempts integer NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer_group, event_id)
    );
    CREATE INDEX dead_letters_event_id ON bus.dead_letters (event_id) WHERE event_id IS NOT NULL;

    -- What the booking heard of the payment, and when to ask again for a step that never came.
    ALTER TABLE booking.bookings
      ADD COLUMN payment_outcome text CHECK (payment_outcome IN ('completed', 'failed')),
      ADD COLUMN refunded boolean NOT NULL DEFAULT false,
      ADD COLUMN redrives integer NOT NULL DEFAULT 0,
      ADD COLUMN redrive_at timestamptz;
    CREATE INDEX bookings_redrive_at ON booking.bookings (redrive_at) WHERE redrive_at IS NOT NULL;

    -- The gateway's side (as Razorpay or Stripe keep it): one charge per idempotency key.
    CREATE SCHEMA gateway;
    CREATE TABLE gateway.charges (
      idempotency_key text PRIMARY KEY,
      amount_paise integer NOT NULL,
      status text NOT NULL CHECK (status IN ('succeeded', 'declined', 'cancelled', 'refunded')),
      reference text NOT NULL,
      decline_reason text,
      refund_reference text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    -- A confirmation is written 'sending' (with a lease: one sender at a time) before the mail server
    -- is called, and 'sent' after.
    ALTER TABLE confirmation.confirmations
      ADD COLUMN status text NOT NULL DEFAULT 'sent' CHECK (status IN ('sending', 'sent')),
      ADD COLUMN attempts integer NOT NULL DEFAULT 1,
      ADD COLUMN message_id text,
      ADD COLUMN lease_until timestamptz;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE confirmation.confirmations DROP COLUMN status, DROP COLUMN attempts, DROP COLUMN message_id, DROP COLUMN lease_until;
    DROP SCHEMA gateway CASCADE;
    ALTER TABLE booking.bookings
      DROP COLUMN payment_outcome, DROP COLUMN refunded, DROP COLUMN redrives, DROP COLUMN redrive_at;
    DROP INDEX bus.dead_letters_event_id;
    DROP TABLE bus.attempts;
    DROP INDEX bus.inbox_handled_at;
    ALTER TABLE bus.outbox DROP COLUMN causation_id, DROP COLUMN producer;
  `.execute(db);
}
