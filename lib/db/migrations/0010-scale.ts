import { sql, type Kysely } from 'kysely';

// What the read endpoints need to cost the same at a million bookings as at a thousand (npm run bench:scale).
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- The admin search matches "containing" (ILIKE '%…%'): only a trigram index serves a leading wildcard.
    -- One index over the three searched columns (lib/admin/booking-search.ts's SEARCHED_TEXT): one scan
    -- per search instead of three, and one index to keep up on each booking instead of three.
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX bookings_search_trgm ON booking.bookings
      USING gin ((reference || ' ' || patient_name || ' ' || patient_email) gin_trgm_ops);
    -- /metrics' saga durations over the last hour read that hour's bookings, not all of them.
    CREATE INDEX bookings_finished_at ON booking.bookings (finished_at) WHERE finished_at IS NOT NULL;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // The extension stays: it may have been there before (IF NOT EXISTS), and it holds no data.
  await sql`
    DROP INDEX booking.bookings_finished_at;
    DROP INDEX booking.bookings_search_trgm;
  `.execute(db);
}
