// What the saga end-to-end suites share: patients and admins, bookings through the JSON API, waiting
// for a saga's outcome, and admin config changes that wait until every participant applied them.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Express } from 'express';
import { addDays, istDate } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import { createUser, upsertAdmin } from '../../lib/identity/user-service.js';
import { buildPatient, buildUser } from './factories.js';
import { Client } from './http.js';
import { waitFor } from './wait.js';

export const QUOTA_REACHED = 'Daily discount quota reached. Please try again tomorrow.';
export const SLOT_TAKEN = 'That time is no longer available. Please choose another.';

/** Each flow of SPEC section 4 as a walk-in booking's timeline shows it (no slot: SlotSkipped). */
export const FLOWS = {
  discounted: [
    'BookingRequested',
    'SlotSkipped',
    'PricingCalculated',
    'DiscountQuotaReserved',
    'PaymentCompleted',
    'BookingConfirmed',
  ],
  undiscounted: [
    'BookingRequested',
    'SlotSkipped',
    'PricingCalculated',
    'DiscountQuotaSkipped',
    'PaymentCompleted',
    'BookingConfirmed',
  ],
  quotaExhausted: [
    'BookingRequested',
    'SlotSkipped',
    'PricingCalculated',
    'DiscountQuotaRejected',
    'BookingRejected',
  ],
  paymentFailedReleased: [
    'BookingRequested',
    'SlotSkipped',
    'PricingCalculated',
    'DiscountQuotaReserved',
    'PaymentFailed',
    'CompensationTriggered',
    'DiscountQuotaReleased',
    'BookingFailed',
  ],
  paymentFailedNothingHeld: [
    'BookingRequested',
    'SlotSkipped',
    'PricingCalculated',
    'DiscountQuotaSkipped',
    'PaymentFailed',
    'CompensationTriggered',
    'BookingFailed',
  ],
} as const;

export interface BookingView {
  id: string;
  reference: string;
  status: 'PENDING' | 'CONFIRMED' | 'REJECTED' | 'FAILED' | 'CANCELLED';
  reason: string | null;
  correlationId: string;
  services: { id: string; name: string; pricePaise: number | null }[];
  pricing: {
    basePaise: number;
    discountPercent: number;
    discountPaise: number;
    finalPaise: number;
    discountApplied: boolean;
  } | null;
  appointment: { start: string; end: string } | null;
  events: { type: string; occurredAt: string }[];
}

export interface AuditEntry {
  id: number;
  at: string;
  type: string;
  actor: string;
  bookingId: string | null;
  correlationId: string | null;
  data: Record<string, unknown>;
}

/** A client of the in-process app, or of a spawned web process by its base URL. */
export function clientOf(target: Express | string): Client {
  return new Client(target);
}

/**
 * A logged-in patient. The account is written directly and logged in, not signed up: the sign-up
 * limit is per address and shared by every suite of the run.
 */
export async function patientClient(target: Express | string, db: Db): Promise<Client> {
  const user = buildUser();
  await createUser(db, user);
  const client = clientOf(target);
  await client.login(user);
  return client;
}

export async function adminClient(target: Express | string, db: Db): Promise<Client> {
  const credentials = {
    email: `admin-${randomUUID().slice(0, 8)}@example.com`,
    password: 'admin password 123',
    name: 'Admin',
  };
  await upsertAdmin(db, credentials);
  const client = clientOf(target);
  await client.login(credentials);
  return client;
}

/** A patient whose birthday is today in IST (born in a leap year, so 29 February exists too). */
export function birthdayPatient(overrides: Parameters<typeof buildPatient>[0] = {}) {
  return buildPatient({
    gender: 'female',
    dateOfBirth: `1992-${istDate(new Date()).slice(5)}`,
    ...overrides,
  });
}

/** A male patient: no birthday discount, whatever the date. */
export function ordinaryPatient(overrides: Parameters<typeof buildPatient>[0] = {}) {
  return buildPatient({ gender: 'male', ...overrides });
}

export async function book(
  client: Client,
  serviceIds: string[],
  patient: ReturnType<typeof buildPatient> = ordinaryPatient(),
  headers: Record<string, string> = {},
): Promise<{ id: string; reference: string; status: string; correlationId: string }> {
  const res = await client.post('/api/bookings', { patient, serviceIds }, headers);
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  return res.body.booking;
}

/** A booking of a chosen slot (its start as GET /api/slots gives it). */
export async function bookAt(
  client: Client,
  serviceIds: string[],
  slotStart: string,
  patient: ReturnType<typeof buildPatient> = ordinaryPatient(),
): Promise<{ id: string; reference: string; status: string; correlationId: string }> {
  const res = await client.post('/api/bookings', { patient, serviceIds, slotStart });
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  return res.body.booking;
}

export interface SlotView {
  start: string;
  end: string;
  capacity: number;
  available: number;
}

/** Slots from tomorrow (IST) that nobody holds a place in yet, one per test that needs its own. */
export async function freeSlots(client: Client, count: number): Promise<SlotView[]> {
  const res = await client.get(`/api/slots?from=${addDays(istDate(new Date()), 1)}&days=14`);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  const free = (res.body.slots as SlotView[]).filter((slot) => slot.available === slot.capacity);
  expect(free.length, 'free slots in the next 14 days').to.be.at.least(count);
  // Spread out, so tests of one run never share a slot.
  const step = Math.floor(free.length / count);
  return Array.from({ length: count }, (_, i) => free[i * step] as SlotView);
}

export async function bookingStatus(client: Client, id: string): Promise<BookingView> {
  const res = await client.get(`/api/bookings/${id}/status`);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body.booking as BookingView;
}

/** Waits for a terminal status and at least `events` timeline entries; returns the booking. */
export async function settled(
  client: Client,
  id: string,
  options: { events?: number; timeoutMs?: number } = {},
): Promise<BookingView> {
  let last: BookingView | null = null;
  try {
    return await waitFor(
      async () => {
        last = await bookingStatus(client, id);
        return last.status !== 'PENDING' && last.events.length >= (options.events ?? 0) ? last : null;
      },
      { timeoutMs: options.timeoutMs ?? 20_000, intervalMs: 50, message: `booking ${id} to settle` },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
}

export const eventTypes = (booking: BookingView) => booking.events.map((event) => event.type);

/** The audit trail of one saga, oldest first. */
/**
 * A saga's audit trail, oldest first, once it holds every step of its booking's timeline as the
 * admin sees it: the audit log writes its batches a moment after the saga's own steps.
 */
export async function auditTrail(admin: Client, correlationId: string): Promise<AuditEntry[]> {
  return waitFor(
    async () => {
      const res = await admin.get(`/api/admin/audit-logs?correlationId=${correlationId}&limit=1000`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const entries = (res.body.entries as AuditEntry[]).slice().reverse();
      const bookingId = entries.find((entry) => entry.bookingId)?.bookingId;
      if (!bookingId) return false;
      const booking = await admin.get(`/api/bookings/${bookingId}`);
      expect(booking.status, JSON.stringify(booking.body)).to.equal(200);
      const missing = [...(booking.body.booking.events as { type: string }[])];
      for (const entry of entries) {
        const at = missing.findIndex((step) => step.type === entry.type);
        if (at >= 0) missing.splice(at, 1);
      }
      return missing.length === 0 && entries;
    },
    { message: `the audit trail of ${correlationId} to hold its booking's timeline` },
  );
}

export async function quotaToday(admin: Client): Promise<{ date: string; used: number; limit: number }> {
  const res = await admin.get('/api/admin/stats');
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body.quota;
}

export interface ConfigChange {
  discountPercent?: number;
  dailyDiscountQuota?: number;
  paymentSimulationMode?: 'success' | 'fail' | 'random';
  paymentFailureRate?: number;
}

/**
 * PUT /api/admin/config, then wait until pricing, quota and payment applied the ConfigChanged event:
 * each keeps its own copy of the values it uses.
 */
export async function changeConfig(admin: Client, db: Db, change: ConfigChange): Promise<void> {
  const res = await admin.put('/api/admin/config', change);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  await waitFor(
    async () => {
      const [pricing, quota, payment] = await Promise.all([
        db.selectFrom('pricing.settings').selectAll().executeTakeFirstOrThrow(),
        db.selectFrom('quota.settings').selectAll().executeTakeFirstOrThrow(),
        db.selectFrom('payment.settings').selectAll().executeTakeFirstOrThrow(),
      ]);
      const unset = (value: unknown) => value === undefined;
      return (
        (unset(change.discountPercent) ||
          pricing.discount_basis_points === Math.round((change.discountPercent ?? 0) * 100)) &&
        (unset(change.dailyDiscountQuota) || quota.daily_limit === change.dailyDiscountQuota) &&
        (unset(change.paymentSimulationMode) || payment.mode === change.paymentSimulationMode) &&
        (unset(change.paymentFailureRate) || payment.failure_rate === change.paymentFailureRate)
      );
    },
    {
      timeoutMs: 10_000,
      intervalMs: 25,
      message: `${JSON.stringify(change)} applied by pricing, quota and payment`,
    },
  );
}

/** Makes sure today's quota has at least `free` slots left (other suites of the run share it). */
export async function ensureQuotaRoom(admin: Client, db: Db, free: number): Promise<void> {
  const quota = await quotaToday(admin);
  if (quota.limit - quota.used < free)
    await changeConfig(admin, db, { dailyDiscountQuota: quota.used + free + 100 });
}

/** A flow as a booking with an appointment shows it: its place reserved, given back by a compensation. */
export function withSlot(flow: readonly string[]): string[] {
  const types = flow.map((type) => (type === 'SlotSkipped' ? 'SlotReserved' : type));
  const undone = types.includes('CompensationTriggered') || types.includes('DiscountQuotaRejected');
  return undone ? [...types, 'SlotReleased'] : types;
}

/**
 * The steps of a flow in order, but for the place given back: that comes from the scheduling
 * participant in parallel with the rest of the compensation, so only its count is fixed.
 */
export function expectSteps(actual: readonly string[], expected: readonly string[]): void {
  const apart = (types: readonly string[]) => types.filter((type) => type !== 'SlotReleased');
  const releases = (types: readonly string[]) => types.length - apart(types).length;
  expect(apart(actual), actual.join(', ')).to.deep.equal(apart(expected));
  expect(releases(actual), actual.join(', ')).to.equal(releases(expected));
}
