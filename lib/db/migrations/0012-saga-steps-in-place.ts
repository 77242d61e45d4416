import { sql, type Kysely } from 'kysely';

// A saga step rewrites its booking's re-drive clock (redrive_at). While an index held that column, every
// step was a non-HOT update: a new entry in each of the table's fifteen indexes, and as many to vacuum.
// The sweep now finds the sagas it watches by a flag that changes only when the clock is set or cleared,
// so a step that moves the clock leaves every index alone (a HOT update), given room on its page.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Room on each page for a booking's next versions (a saga makes four or five in seconds). Set first:
    -- the rewrite below packs the pages to it.
    ALTER TABLE booking.bookings SET (fillfactor = 80);
    ALTER TABLE booking.bookings
      ADD COLUMN redrive_armed boolean GENERATED ALWAYS AS (redrive_at IS NOT NULL) STORED;
    DROP INDEX booking.bookings_redrive_at;
    -- The sagas in flight: few, whatever the table's size. Keyed on id, which never changes.
    CREATE INDEX bookings_redrive_armed ON booking.bookings (id) WHERE redrive_armed;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX booking.bookings_redrive_armed;
    ALTER TABLE booking.bookings DROP COLUMN redrive_armed;
    CREATE INDEX bookings_redrive_at ON booking.bookings (redrive_at) WHERE redrive_at IS NOT NULL;
    ALTER TABLE booking.bookings RESET (fillfactor);
  `.execute(db);
}
