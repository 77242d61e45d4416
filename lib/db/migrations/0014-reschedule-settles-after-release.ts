import { sql, type Kysely } from 'kysely';

// A move settles once its new place is reserved and its old one released, in whichever order the two
// answers arrive: the new place's end is kept here until the release comes.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE booking.bookings ADD COLUMN change_slot_end timestamptz`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE booking.bookings DROP COLUMN change_slot_end`.execute(db);
}
