import { sql, type Kysely } from 'kysely';

/**
 * The dashboard's figures, pre-aggregated by triggers in the transaction that changes the rows, so a
 * refresh reads a few hundred counter rows instead of scanning bookings and audit entries. Each backend
 * counts in rows of its own (shard = its pid); readers fold old shards into shard 0 from time to time.
 * Latency buckets are geometric: bucket b holds sagas of (10·1.25^(b-1), 10·1.25^b] ms (0: ≤ 10 ms).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE SCHEMA stats;
    CREATE TABLE stats.booking_status (
      status text NOT NULL,
      shard integer NOT NULL,
      count bigint NOT NULL,
      PRIMARY KEY (status, shard)
    );
    CREATE TABLE stats.minute_bookings (
      minute timestamptz NOT NULL,
      outcome text NOT NULL,
      shard integer NOT NULL,
      count bigint NOT NULL,
      PRIMARY KEY (minute, outcome, shard)
    );
    CREATE TABLE stats.minute_latency (
      minute timestamptz NOT NULL,
      bucket smallint NOT NULL,
      shard integer NOT NULL,
      count bigint NOT NULL,
      PRIMARY KEY (minute, bucket, shard)
    );
    CREATE TABLE stats.event_types (
      type text NOT NULL,
      shard integer NOT NULL,
      count bigint NOT NULL,
      PRIMARY KEY (type, shard)
    );

    -- A shard per backend: concurrent transactions never wait on each other's counter rows.
    CREATE FUNCTION stats.shard() RETURNS integer LANGUAGE sql STABLE AS $$ SELECT pg_backend_pid() $$;

    CREATE FUNCTION stats.latency_bucket(ms double precision) RETURNS smallint LANGUAGE sql IMMUTABLE AS
      $$ SELECT CASE WHEN ms <= 10 THEN 0
                     ELSE least(60, ceil(ln(ms / 10) / ln(1.25)))::smallint END $$;

    CREATE FUNCTION stats.count_booking_status(key text, delta integer) RETURNS void LANGUAGE sql AS $$
      INSERT INTO stats.booking_status VALUES (key, stats.shard(), delta)
      ON CONFLICT (status, shard) DO UPDATE SET count = stats.booking_status.count + delta
    $$;

    CREATE FUNCTION stats.count_minute_booking(at timestamptz, key text) RETURNS void LANGUAGE sql AS $$
      INSERT INTO stats.minute_bookings VALUES (date_trunc('minute', at), key, stats.shard(), 1)
      ON CONFLICT (minute, outcome, shard) DO UPDATE SET count = stats.minute_bookings.count + 1
    $$;

    CREATE FUNCTION stats.on_booking_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM stats.count_booking_status(NEW.status, 1);
      PERFORM stats.count_minute_booking(NEW.created_at, 'REQUESTED');
      RETURN NULL;
    END $$;

    CREATE FUNCTION stats.on_booking_status() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      finished timestamptz := coalesce(NEW.finished_at, now());
    BEGIN
      PERFORM stats.count_booking_status(OLD.status, -1);
      PERFORM stats.count_booking_status(NEW.status, 1);
      IF OLD.status = 'PENDING' THEN
        PERFORM stats.count_minute_booking(finished, NEW.status);
        INSERT INTO stats.minute_latency VALUES (
          date_trunc('minute', finished),
          stats.latency_bucket(extract(epoch FROM finished - NEW.created_at) * 1000),
          stats.shard(),
          1)
        ON CONFLICT (minute, bucket, shard) DO UPDATE SET count = stats.minute_latency.count + 1;
      END IF;
      RETURN NULL;
    END $$;

    CREATE FUNCTION stats.on_booking_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM stats.count_booking_status(OLD.status, -1);
      RETURN NULL;
    END $$;

    CREATE FUNCTION stats.on_audit_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO stats.event_types VALUES (NEW.type, stats.shard(), 1)
      ON CONFLICT (type, shard) DO UPDATE SET count = stats.event_types.count + 1;
      RETURN NULL;
    END $$;

    CREATE TRIGGER bookings_stats_insert AFTER INSERT ON booking.bookings
      FOR EACH ROW EXECUTE FUNCTION stats.on_booking_insert();
    CREATE TRIGGER bookings_stats_status AFTER UPDATE OF status ON booking.bookings
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION stats.on_booking_status();
    CREATE TRIGGER bookings_stats_delete AFTER DELETE ON booking.bookings
      FOR EACH ROW EXECUTE FUNCTION stats.on_booking_delete();
    CREATE TRIGGER audit_stats_event AFTER INSERT ON audit.entries
      FOR EACH ROW WHEN (NEW.event_id IS NOT NULL) EXECUTE FUNCTION stats.on_audit_event();

    -- What existed before the triggers.
    INSERT INTO stats.booking_status
      SELECT status, 0, count(*) FROM booking.bookings GROUP BY status;
    INSERT INTO stats.minute_bookings
      SELECT date_trunc('minute', created_at), 'REQUESTED', 0, count(*) FROM booking.bookings GROUP BY 1;
    INSERT INTO stats.minute_bookings
      SELECT date_trunc('minute', finished_at), status, 0, count(*) FROM booking.bookings
      WHERE finished_at IS NOT NULL GROUP BY 1, 2;
    INSERT INTO stats.minute_latency
      SELECT date_trunc('minute', finished_at),
             stats.latency_bucket(extract(epoch FROM finished_at - created_at) * 1000), 0, count(*)
      FROM booking.bookings WHERE finished_at IS NOT NULL GROUP BY 1, 2;
    INSERT INTO stats.event_types
      SELECT type, 0, count(*) FROM audit.entries WHERE event_id IS NOT NULL GROUP BY type;

    -- When each participant applied the config version it holds.
    ALTER TABLE pricing.settings ADD COLUMN applied_at timestamptz NOT NULL DEFAULT now();
    ALTER TABLE quota.settings ADD COLUMN applied_at timestamptz NOT NULL DEFAULT now();
    ALTER TABLE payment.settings ADD COLUMN applied_at timestamptz NOT NULL DEFAULT now();
    CREATE FUNCTION stats.stamp_applied() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.applied_at := clock_timestamp();
      RETURN NEW;
    END $$;
    CREATE TRIGGER pricing_settings_applied BEFORE UPDATE ON pricing.settings
      FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version) EXECUTE FUNCTION stats.stamp_applied();
    CREATE TRIGGER quota_settings_applied BEFORE UPDATE ON quota.settings
      FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version) EXECUTE FUNCTION stats.stamp_applied();
    CREATE TRIGGER payment_settings_applied BEFORE UPDATE ON payment.settings
      FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version) EXECUTE FUNCTION stats.stamp_applied();

    -- Keyset pagination of the admin lists, newest first, and the open dead letters.
    CREATE INDEX bookings_created_id ON booking.bookings (created_at DESC, id DESC);
    CREATE INDEX audit_entries_at_id ON audit.entries (at DESC, id DESC);
    CREATE INDEX dead_letters_open ON bus.dead_letters (consumer_group, id) WHERE replayed_at IS NULL;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX bus.dead_letters_open;
    DROP INDEX audit.audit_entries_at_id;
    DROP INDEX booking.bookings_created_id;
    DROP TRIGGER pricing_settings_applied ON pricing.settings;
    DROP TRIGGER quota_settings_applied ON quota.settings;
    DROP TRIGGER payment_settings_applied ON payment.settings;
    ALTER TABLE pricing.settings DROP COLUMN applied_at;
    ALTER TABLE quota.settings DROP COLUMN applied_at;
    ALTER TABLE payment.settings DROP COLUMN applied_at;
    DROP TRIGGER bookings_stats_insert ON booking.bookings;
    DROP TRIGGER bookings_stats_status ON booking.bookings;
    DROP TRIGGER bookings_stats_delete ON booking.bookings;
    DROP TRIGGER audit_stats_event ON audit.entries;
    DROP SCHEMA stats CASCADE;
  `.execute(db);
}
