import { sql, type Kysely } from 'kysely';

// Moving a confirmed booking to another slot: the time asked for and the request that asked, and the
// updated invite it sends.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE booking.bookings
      DROP CONSTRAINT bookings_change_check,
      ADD CONSTRAINT bookings_change_check CHECK (change IN ('cancelling', 'rescheduling')),
      ADD COLUMN change_slot_start timestamptz,
      ADD COLUMN change_event_id uuid;

    ALTER TABLE confirmation.notices
      DROP CONSTRAINT notices_kind_check,
      ADD CONSTRAINT notices_kind_check CHECK (kind IN ('cancellation', 'reschedule'));
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DELETE FROM confirmation.notices WHERE kind = 'reschedule';
    ALTER TABLE confirmation.notices
      DROP CONSTRAINT notices_kind_check,
      ADD CONSTRAINT notices_kind_check CHECK (kind IN ('cancellation'));
    UPDATE booking.bookings SET change = NULL WHERE change = 'rescheduling';
    ALTER TABLE booking.bookings
      DROP COLUMN change_slot_start, DROP COLUMN change_event_id,
      DROP CONSTRAINT bookings_change_check,
      ADD CONSTRAINT bookings_change_check CHECK (change IN ('cancelling'));
  `.execute(db);
}
