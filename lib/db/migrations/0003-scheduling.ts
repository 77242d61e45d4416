import { sql, type Kysely } from 'kysely';
import { DEFAULT_SCHEDULE } from '../../scheduling/slot-rules.js';

// The scheduling participant's schema: the schedule, the places held per slot, and each booking's hold.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE SCHEMA scheduling;
    CREATE TABLE scheduling.schedule (
      id smallint PRIMARY KEY CHECK (id = 1),
      slot_minutes integer NOT NULL CHECK (slot_minutes BETWEEN 5 AND 240),
      capacity integer NOT NULL CHECK (capacity BETWEEN 1 AND 100),
      hours jsonb NOT NULL,
      closed_dates jsonb NOT NULL DEFAULT '[]',
      version integer NOT NULL DEFAULT 1,
      updated_at timestamptz NOT NULL DEFAULT now(),
      updated_by text
    );
    CREATE TABLE scheduling.slots (
      start timestamptz PRIMARY KEY,
      held integer NOT NULL CHECK (held >= 0)
    );
    CREATE TABLE scheduling.holds (
      booking_id uuid PRIMARY KEY,
      slot_start timestamptz,
      status text NOT NULL CHECK (status IN ('held', 'released', 'rejected', 'skipped', 'cancelled')),
      schedule_version integer,
      capacity integer,
      held_after integer,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX holds_held_slot ON scheduling.holds (slot_start) WHERE status = 'held';

    ALTER TABLE booking.bookings
      ADD COLUMN slot_start timestamptz,
      ADD COLUMN slot_end timestamptz,
      ADD COLUMN slot_outcome text CHECK (slot_outcome IN ('reserved', 'skipped', 'rejected')),
      ADD COLUMN slot_released boolean NOT NULL DEFAULT false;
    CREATE INDEX bookings_slot_start ON booking.bookings (slot_start) WHERE slot_start IS NOT NULL;
  `.execute(db);
  await sql`
    INSERT INTO scheduling.schedule (id, slot_minutes, capacity, hours, closed_dates)
    VALUES (1, ${DEFAULT_SCHEDULE.slotMinutes}, ${DEFAULT_SCHEDULE.capacity},
            ${JSON.stringify(DEFAULT_SCHEDULE.hours)}::jsonb, '[]'::jsonb)
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP SCHEMA scheduling CASCADE;
    ALTER TABLE booking.bookings
      DROP COLUMN slot_start, DROP COLUMN slot_end, DROP COLUMN slot_outcome, DROP COLUMN slot_released;
  `.execute(db);
}
