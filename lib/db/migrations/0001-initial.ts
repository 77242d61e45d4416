import { sql, type Kysely } from 'kysely';

// One PostgreSQL schema per saga participant: each owns its tables, none writes another's.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE SCHEMA identity;
    CREATE TABLE identity.users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      email text NOT NULL UNIQUE CHECK (email = lower(email)),
      name text NOT NULL,
      password_hash text NOT NULL,
      role text NOT NULL CHECK (role IN ('user', 'admin')),
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE SCHEMA catalogue;
    CREATE TABLE catalogue.services (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL,
      description text NOT NULL DEFAULT '',
      price_paise integer NOT NULL CHECK (price_paise >= 0),
      gender text NOT NULL DEFAULT 'all' CHECK (gender IN ('all', 'female', 'male')),
      active boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX services_name_key ON catalogue.services (lower(name));

    CREATE SCHEMA settings;
    CREATE TABLE settings.config (
      id smallint PRIMARY KEY CHECK (id = 1),
      discount_basis_points integer NOT NULL CHECK (discount_basis_points BETWEEN 0 AND 10000),
      daily_discount_quota integer NOT NULL CHECK (daily_discount_quota >= 0),
      payment_simulation_mode text CHECK (payment_simulation_mode IN ('success', 'fail', 'random')),
      payment_failure_rate double precision CHECK (payment_failure_rate BETWEEN 0 AND 1),
      version integer NOT NULL DEFAULT 1,
      updated_at timestamptz NOT NULL DEFAULT now(),
      updated_by text
    );
    INSERT INTO settings.config (id, discount_basis_points, daily_discount_quota) VALUES (1, 1200, 100);

    CREATE SCHEMA booking;
    CREATE TABLE booking.bookings (
      id uuid PRIMARY KEY,
      reference text NOT NULL UNIQUE,
      user_id uuid NOT NULL,
      status text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'REJECTED', 'FAILED')),
      reason text,
      correlation_id uuid NOT NULL UNIQUE,
      patient_name text NOT NULL,
      patient_gender text NOT NULL CHECK (patient_gender IN ('female', 'male', 'other')),
      patient_date_of_birth date NOT NULL,
      patient_phone text NOT NULL,
      patient_email text NOT NULL,
      idempotency_key text,
      request_hash text NOT NULL,
      quota_outcome text CHECK (quota_outcome IN ('reserved', 'skipped', 'rejected')),
      quota_released boolean NOT NULL DEFAULT false,
      compensating boolean NOT NULL DEFAULT false,
      base_paise integer,
      discount_basis_points integer,
      discount_paise integer,
      final_paise integer,
      discount_eligible boolean,
      discount_applied boolean,
      deadline_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      UNIQUE (user_id, idempotency_key)
    );
    CREATE INDEX bookings_user_created ON booking.bookings (user_id, created_at DESC);
    CREATE INDEX bookings_status_created ON booking.bookings (status, created_at DESC);
    CREATE INDEX bookings_pending_deadline ON booking.bookings (deadline_at) WHERE status = 'PENDING';
    CREATE TABLE booking.booking_services (
      booking_id uuid NOT NULL REFERENCES booking.bookings (id),
      position smallint NOT NULL,
      service_id uuid NOT NULL,
      name text NOT NULL,
      price_paise integer,
      PRIMARY KEY (booking_id, position)
    );
    CREATE TABLE booking.timeline (
      booking_id uuid NOT NULL REFERENCES booking.bookings (id),
      event_id uuid NOT NULL,
      type text NOT NULL,
      occurred_at timestamptz NOT NULL,
      PRIMARY KEY (booking_id, event_id)
    );

    CREATE SCHEMA pricing;
    CREATE TABLE pricing.settings (
      id smallint PRIMARY KEY CHECK (id = 1),
      discount_basis_points integer NOT NULL,
      version integer NOT NULL
    );
    INSERT INTO pricing.settings VALUES (1, 1200, 0);

    CREATE SCHEMA quota;
    CREATE TABLE quota.settings (
      id smallint PRIMARY KEY CHECK (id = 1),
      daily_limit integer NOT NULL,
      version integer NOT NULL
    );
    INSERT INTO quota.settings VALUES (1, 100, 0);
    CREATE TABLE quota.usage (
      day date PRIMARY KEY,
      used integer NOT NULL CHECK (used >= 0)
    );
    CREATE TABLE quota.reservations (
      booking_id uuid PRIMARY KEY,
      day date,
      status text NOT NULL CHECK (status IN ('reserved', 'released', 'skipped', 'rejected', 'cancelled')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE SCHEMA payment;
    CREATE TABLE payment.settings (
      id smallint PRIMARY KEY CHECK (id = 1),
      mode text CHECK (mode IN ('success', 'fail', 'random')),
      failure_rate double precision,
      version integer NOT NULL
    );
    INSERT INTO payment.settings VALUES (1, NULL, NULL, 0);
    CREATE TABLE payment.payments (
      booking_id uuid PRIMARY KEY,
      status text NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED', 'CANCELLED', 'REFUNDED')),
      amount_paise integer,
      gateway_reference text,
      failure_reason text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE SCHEMA confirmation;
    CREATE TABLE confirmation.confirmations (
      booking_id uuid PRIMARY KEY,
      channel text NOT NULL CHECK (channel IN ('email', 'log')),
      recipient text NOT NULL,
      sent_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE SCHEMA audit;
    CREATE TABLE audit.entries (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL,
      type text NOT NULL,
      actor text NOT NULL,
      booking_id uuid,
      correlation_id uuid,
      event_id uuid UNIQUE,
      data jsonb NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_entries_at ON audit.entries (at DESC);
    CREATE INDEX audit_entries_correlation ON audit.entries (correlation_id, at);
    CREATE INDEX audit_entries_booking ON audit.entries (booking_id, at);
    CREATE INDEX audit_entries_type_at ON audit.entries (type, at DESC);

    CREATE SCHEMA bus;
    CREATE TABLE bus.outbox (
      id bigserial PRIMARY KEY,
      stream text NOT NULL,
      event_id uuid NOT NULL,
      payload jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      published_at timestamptz
    );
    CREATE INDEX outbox_unpublished ON bus.outbox (id) WHERE published_at IS NULL;
    CREATE INDEX outbox_published_at ON bus.outbox (published_at) WHERE published_at IS NOT NULL;
    -- No NOTIFY trigger here: NOTIFY inside a transaction serialises commits (measured: ~400 vs ~2,000
    -- outbox commits/s at 16 clients). Producers kick their own relay after commit; others may notify.
    CREATE TABLE bus.inbox (
      consumer_group text NOT NULL,
      event_id uuid NOT NULL,
      handled_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer_group, event_id)
    );
    CREATE TABLE bus.dead_letters (
      id bigserial PRIMARY KEY,
      stream text NOT NULL,
      entry_id text NOT NULL,
      consumer_group text NOT NULL,
      event_id uuid,
      type text,
      payload jsonb NOT NULL,
      error text NOT NULL,
      deliveries integer NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      replayed_at timestamptz,
      UNIQUE (stream, consumer_group, entry_id)
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP SCHEMA bus, audit, confirmation, payment, quota, pricing, booking, settings, catalogue, identity CASCADE
  `.execute(db);
}
