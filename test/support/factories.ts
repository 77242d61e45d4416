import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import type { Db } from '../../lib/db/database.js';
import type { ServiceGender } from '../../lib/catalogue/service-rules.js';
import { requestBooking } from '../../lib/booking/booking-service.js';
import { systemClock } from '../../lib/clock.js';
import { createUser, upsertAdmin } from '../../lib/identity/user-service.js';
import { Client } from './http.js';

const unique = () => randomUUID().slice(0, 8);

export function buildPatient(
  overrides: Partial<{
    name: string;
    gender: 'female' | 'male' | 'other';
    dateOfBirth: string;
    phone: string;
    email: string;
  }> = {},
) {
  return {
    name: 'Meera Iyer',
    gender: 'male' as 'female' | 'male' | 'other',
    dateOfBirth: '1988-07-14',
    phone: '+91 98450 12345',
    email: `patient-${unique()}@example.com`,
    ...overrides,
  };
}

export function buildUser(overrides: Partial<{ name: string; email: string; password: string }> = {}) {
  return {
    name: 'Ravi Kumar',
    email: `user-${unique()}@example.com`,
    password: 'correct horse battery',
    ...overrides,
  };
}

/** A catalogue service written straight to the table (its own unique name). */
export async function createService(
  db: Db,
  overrides: Partial<{
    name: string;
    pricePaise: number;
    gender: ServiceGender;
    active: boolean;
    description: string;
  }> = {},
) {
  const row = await db
    .insertInto('catalogue.services')
    .values({
      name: overrides.name ?? `Test service ${unique()}`,
      description: overrides.description ?? 'A service made by a test.',
      price_paise: overrides.pricePaise ?? 50_000,
      gender: overrides.gender ?? 'all',
      active: overrides.active ?? true,
    })
    .returning(['id', 'name', 'price_paise'])
    .executeTakeFirstOrThrow();
  return { id: row.id, name: row.name, pricePaise: row.price_paise };
}

export async function signedUpPatient(app: Express) {
  const client = new Client(app);
  const user = await client.signup(buildUser());
  return { client, user };
}

export async function loggedInAdmin(app: Express, db: Db) {
  const credentials = {
    email: `admin-${unique()}@example.com`,
    password: 'admin password 123',
    name: 'Admin',
  };
  await upsertAdmin(db, credentials);
  const client = new Client(app);
  const user = await client.login(credentials);
  return { client, user };
}

/** A patient's booking of one new service, requested as the web requests it (its saga not run). */
export async function requestedBooking(db: Db, options: { redriveAfterMs?: number } = {}) {
  const user = await createUser(db, buildUser());
  const service = await createService(db);
  const patient = buildPatient();
  const request = { userId: user.id, patient, serviceIds: [service.id] };
  const { booking } = await requestBooking(db, request, {
    clock: systemClock,
    deadlineMs: 600_000,
    redriveAfterMs: options.redriveAfterMs ?? 60_000,
  });
  return { bookingId: booking.id, service, patient };
}

/**
 * A booking row written straight to the table (no saga runs), for lists and filters: its own
 * reference, a price when it is not pending, created at the given instant.
 */
export async function insertBooking(
  db: Db,
  overrides: Partial<{
    patientName: string;
    status: 'PENDING' | 'CONFIRMED' | 'REJECTED' | 'FAILED';
    createdAt: Date;
    reference: string;
    /** The account it belongs to: one created by the test lets trackWrites remove the booking. */
    userId: string;
  }> = {},
) {
  const id = randomUUID();
  const status = overrides.status ?? 'CONFIRMED';
  const priced = status !== 'PENDING';
  const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const code = Array.from(randomUUID().replace(/-/g, '').slice(0, 8), (c) => crockford[parseInt(c, 16)]).join(
    '',
  );
  const row = {
    id,
    reference: overrides.reference ?? `MC-${code.slice(0, 4)}-${code.slice(4)}`,
    user_id: overrides.userId ?? randomUUID(),
    status,
    reason: status === 'REJECTED' ? 'Daily discount quota reached. Please try again tomorrow.' : null,
    correlation_id: randomUUID(),
    patient_name: overrides.patientName ?? 'Meera Iyer',
    patient_gender: 'female' as const,
    patient_date_of_birth: '1990-05-17',
    patient_phone: '+91 98450 12345',
    patient_email: `patient-${unique()}@example.com`,
    idempotency_key: null,
    request_hash: 'test',
    quota_outcome: null,
    base_paise: priced ? 150_000 : null,
    discount_basis_points: priced ? 0 : null,
    discount_paise: priced ? 0 : null,
    final_paise: priced ? 150_000 : null,
    discount_eligible: priced ? false : null,
    discount_applied: priced ? false : null,
    deadline_at: new Date(Date.now() + 120_000),
    created_at: overrides.createdAt ?? new Date(),
    finished_at: priced ? (overrides.createdAt ?? new Date()) : null,
  };
  await db.insertInto('booking.bookings').values(row).execute();
  return { id, reference: row.reference, correlationId: row.correlation_id, createdAt: row.created_at };
}

/**
 * For a test of a sweep over the shared database: a sweep sets other tests' outbox rows to go out
 * again too. Call before it; the function returned marks published again every row it left
 * unpublished, so no later suite's relay sends them.
 */
export async function keepOutboxAsFound(db: Db): Promise<() => Promise<void>> {
  const unpublished = await db
    .selectFrom('bus.outbox')
    .select('id')
    .where('published_at', 'is', null)
    .execute();
  const before = unpublished.map((row) => row.id);
  return async () => {
    let restore = db
      .updateTable('bus.outbox')
      .set({ published_at: new Date() })
      .where('published_at', 'is', null);
    if (before.length > 0) restore = restore.where('id', 'not in', before);
    await restore.execute();
  };
}
