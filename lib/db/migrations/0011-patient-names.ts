import { sql, type Kysely } from 'kysely';

// The admin search by patient name or email without a trigram scan of every booking: a name is shared by
// hundreds of bookings, so its trigrams are frequent there and rare among the distinct names.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Every distinct lower(patient_name) and lower(patient_email) ever booked with. A text is never
    -- removed: one no booking holds any more matches nothing, and costs one row.
    CREATE TABLE booking.search_texts (text text PRIMARY KEY);
    CREATE INDEX search_texts_trgm ON booking.search_texts USING gin (text gin_trgm_ops);

    -- Sorted, so that two bookings adding the same two texts take their locks in the same order.
    CREATE FUNCTION booking.remember_search_texts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO booking.search_texts (text)
        SELECT DISTINCT t FROM unnest(ARRAY[lower(NEW.patient_name), lower(NEW.patient_email)]) AS t ORDER BY t
        ON CONFLICT DO NOTHING;
      RETURN NULL;
    END $$;
    CREATE TRIGGER bookings_search_texts AFTER INSERT OR UPDATE OF patient_name, patient_email
      ON booking.bookings FOR EACH ROW EXECUTE FUNCTION booking.remember_search_texts();

    INSERT INTO booking.search_texts (text)
      SELECT lower(patient_name) FROM booking.bookings UNION SELECT lower(patient_email) FROM booking.bookings
      ON CONFLICT DO NOTHING;

    -- From the texts matched to their bookings, newest first.
    CREATE INDEX bookings_name_created ON booking.bookings (lower(patient_name), created_at DESC, id DESC);
    CREATE INDEX bookings_email_created ON booking.bookings (lower(patient_email), created_at DESC, id DESC);
    -- A reference's beginning (LIKE 'MC-7K2Q%') on a btree whatever the database's collation; any other
    -- part of one (7K2Q) on the references' own trigrams, rare ones but for the "mc" every reference holds.
    CREATE INDEX bookings_reference_prefix ON booking.bookings (reference text_pattern_ops);
    CREATE INDEX bookings_reference_trgm ON booking.bookings USING gin (reference gin_trgm_ops);
    DROP INDEX booking.bookings_search_trgm;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE INDEX bookings_search_trgm ON booking.bookings
      USING gin ((reference || ' ' || patient_name || ' ' || patient_email) gin_trgm_ops);
    DROP INDEX booking.bookings_reference_trgm;
    DROP INDEX booking.bookings_reference_prefix;
    DROP INDEX booking.bookings_email_created;
    DROP INDEX booking.bookings_name_created;
    DROP TRIGGER bookings_search_texts ON booking.bookings;
    DROP FUNCTION booking.remember_search_texts();
    DROP TABLE booking.search_texts;
  `.execute(db);
}
