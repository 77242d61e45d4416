import { createHash, randomUUID } from 'node:crypto';
import { CompiledQuery, sql, type ExpressionBuilder } from 'kysely';
import { outboxRows } from '../bus/outbox.js';
import type { Clock } from '../clock.js';
import { bookableServices } from '../catalogue/catalogue-service.js';
import type { Db, Trx } from '../db/database.js';
import type { Booking, PatientGender } from '../db/schema.js';
import { ConflictError, TooManyRequestsError, ValidationError } from '../errors.js';
import { RetryLaterError } from '../transient-errors.js';
import { createEvent, type Event } from '../events/catalogue.js';
import { readSchedule } from '../scheduling/schedule-repository.js';
import {
  formatIst,
  istInstant,
  slotProblem,
  slotStartingAt,
  SLOT_PROBLEM_MESSAGES,
  type Slot,
} from '../scheduling/slot-rules.js';
import { SAGA_STEP_ORDER } from './booking-saga.js';
import { countPendingBookings } from './patient-bookings.js';
import { generateReference } from './reference.js';

export interface BookingRequest {
  userId: string;
  patient: { name: string; gender: PatientGender; dateOfBirth: string; phone: string; email: string };
  serviceIds: string[];
  /** The chosen slot's start (ISO with offset); absent for a walk-in. */
  slotStart?: string | null | undefined;
  idempotencyKey?: string | undefined;
}

export interface BookingAccepted {
  id: string;
  reference: string;
  status: Booking['status'];
  correlationId: string;
}

/**
 * Accepts a booking: checks the slot against the schedule, then, in one statement, the services
 * against the live catalogue and the patient's bookings still being processed against
 * `pendingLimit`, and writes the booking, its lines, its first timeline entry and `BookingRequested`
 * only if both hold. When they do not, a second look says which (a 429 or a 422 naming the services).
 * The saga runs from there (whether the slot still has room is the saga's to decide).
 *
 * The cap is a guard against abuse, not a ledger: two requests of one patient at the same moment
 * read the same count, and both may pass it.
 */
export async function requestBooking(
  db: Db,
  request: BookingRequest,
  options: {
    clock: Clock;
    deadlineMs: number;
    /** When the saga is re-driven if nothing answers its request (SAGA_REDRIVE_AFTER_MS). */
    redriveAfterMs: number;
    /** At most this many of the patient's bookings still being processed (none: no cap). */
    pendingLimit?: number;
    newReference?: () => string;
    /** Who publishes the new event itself right after the commit (see outboxRows); none: the relays. */
    publisher?: string;
  },
): Promise<{ booking: BookingAccepted; created: boolean; events: Event[] }> {
  const newReference = options.newReference ?? generateReference;
  const serviceIds = [...new Set(request.serviceIds)];
  const slotStart = request.slotStart ? formatIst(new Date(request.slotStart)) : null;
  const requestHash = hashRequest({ ...request, serviceIds, slotStart });
  if (request.idempotencyKey) {
    const existing = await findByIdempotencyKey(db, request.userId, request.idempotencyKey, requestHash);
    if (existing) return { booking: existing, created: false, events: [] };
  }

  const now = options.clock.now();
  const slot = slotStart ? await bookableSlot(db, new Date(slotStart), now) : null;
  const id = randomUUID();
  const correlationId = randomUUID();
  const { gender } = request.patient;
  const booking = {
    id,
    user_id: request.userId,
    status: 'PENDING' as const,
    reason: null,
    correlation_id: correlationId,
    patient_name: request.patient.name,
    patient_gender: gender,
    patient_date_of_birth: request.patient.dateOfBirth,
    patient_phone: request.patient.phone,
    patient_email: request.patient.email,
    idempotency_key: request.idempotencyKey ?? null,
    request_hash: requestHash,
    quota_outcome: null,
    base_paise: null,
    discount_basis_points: null,
    discount_paise: null,
    final_paise: null,
    discount_eligible: null,
    discount_applied: null,
    slot_start: slot?.start ?? null,
    slot_end: slot?.end ?? null,
    slot_outcome: null,
    deadline_at: new Date(now.getTime() + options.deadlineMs),
    // Armed from the start, as every step re-arms it: no step then changes whether it is armed.
    redrive_at: new Date(now.getTime() + options.redriveAfterMs),
    created_at: now,
    finished_at: null,
  };
  for (;;) {
    const reference = newReference();
    const event = createEvent(
      'BookingRequested',
      { reference, userId: request.userId, patient: request.patient, serviceIds, slotStart },
      { bookingId: id, correlationId, causationId: null },
      now,
    );
    const row = { ...booking, reference };
    const [outboxRow] = outboxRows([event], options.publisher ?? null);
    try {
      // One statement (atomic on its own); each insert after the booking's writes only if it was written.
      const written = await db
        .with('offered', (qb) =>
          qb
            .selectFrom('catalogue.services')
            .select(['id', 'name'])
            .where('id', 'in', serviceIds)
            .where('active', '=', true)
            .where('gender', 'in', gender === 'other' ? ['all'] : ['all', gender]),
        )
        .with('booking', (qb) =>
          qb
            .insertInto('booking.bookings')
            .columns(columnsOf(row))
            .expression(
              qb
                .selectNoFrom((eb) => valuesOf(eb, row))
                .where((eb) =>
                  eb(
                    eb.selectFrom('offered').select((eb) => eb.fn.countAll<number>().as('count')),
                    '=',
                    serviceIds.length,
                  ),
                )
                .$if(options.pendingLimit !== undefined, (query) =>
                  query.where((eb) =>
                    eb(
                      eb
                        .selectFrom('booking.bookings')
                        .select((eb) => eb.fn.countAll<number>().as('count'))
                        .where('user_id', '=', request.userId)
                        .where('status', '=', 'PENDING'),
                      '<',
                      options.pendingLimit!,
                    ),
                  ),
                ),
            )
            .returning('id'),
        )
        .with('lines', (qb) =>
          qb
            .insertInto('booking.booking_services')
            .columns(['booking_id', 'position', 'service_id', 'name', 'price_paise'])
            .expression(
              qb
                .selectFrom(['booking', 'offered'])
                .select((eb) => [
                  'booking.id',
                  sql<number>`array_position(${serviceIds}::uuid[], offered.id) - 1`.as('position'),
                  'offered.id as service_id',
                  'offered.name',
                  eb.val(null).as('price_paise'),
                ]),
            ),
        )
        .with('step', (qb) =>
          qb
            .insertInto('booking.timeline')
            .columns(['booking_id', 'event_id', 'type', 'occurred_at'])
            .expression((eb) =>
              eb.selectFrom('booking').select([
                'booking.id',
                ...valuesOf(eb, {
                  event_id: event.eventId,
                  type: event.type,
                  occurred_at: now,
                }),
              ]),
            ),
        )
        .insertInto('bus.outbox')
        .columns(columnsOf(outboxRow!))
        .expression((eb) => eb.selectFrom('booking').select(valuesOf(eb, outboxRow!)))
        .returning('bus.outbox.id')
        .execute();
      if (written.length === 0) {
        await refusal(db, request, serviceIds, options.pendingLimit);
        continue;
      }
      const accepted = { id, reference, status: 'PENDING' as const, correlationId };
      return { booking: accepted, created: true, events: [event] };
    } catch (error) {
      // 40 random bits: a reference already taken is rare, and another is drawn.
      if (isUniqueViolation(error, 'bookings_reference_key')) continue;
      // Two requests with one idempotency key raced: the loser answers with the winner's booking.
      if (request.idempotencyKey && isUniqueViolation(error, 'bookings_user_id_idempotency_key_key')) {
        const existing = await findByIdempotencyKey(db, request.userId, request.idempotencyKey, requestHash);
        if (existing) return { booking: existing, created: false, events: [] };
      }
      throw error;
    }
  }
}

function columnsOf<R extends object>(row: R): (keyof R & string)[] {
  return Object.keys(row) as (keyof R & string)[];
}

/** A row's values as a SELECT list (`$1 AS id, …`): PostgreSQL gives each the type of its column. */
function valuesOf<DB, TB extends keyof DB>(eb: ExpressionBuilder<DB, TB>, row: Record<string, unknown>) {
  return Object.entries(row).map(([column, value]) => eb.val(value).as(column));
}

/**
 * Why a booking was not written: the patient's cap on pending bookings (429) or the services (422).
 * Returns when neither holds any more (a booking finished or a service came back meanwhile): try again.
 */
async function refusal(
  db: Db,
  request: BookingRequest,
  serviceIds: string[],
  pendingLimit: number | undefined,
): Promise<void> {
  if (pendingLimit !== undefined && (await countPendingBookings(db, request.userId)) >= pendingLimit) {
    throw new TooManyRequestsError(
      `You have ${pendingLimit} bookings still being processed. Please wait for them to finish.`,
      10,
    );
  }
  await bookableServices(db, serviceIds, request.patient.gender);
}

/** The slot starting there, if it can be booked now; else a 422 naming the problem. */
export async function bookableSlot(db: Db | Trx, start: Date, now: Date): Promise<Slot> {
  const { schedule } = await readSchedule(db);
  const problem = slotProblem(schedule, start, now);
  const slot = slotStartingAt(schedule, start);
  if (problem || !slot) {
    throw new ValidationError(
      'The chosen time cannot be booked.',
      [{ path: 'slotStart', message: SLOT_PROBLEM_MESSAGES[problem ?? 'not_a_slot'] }],
      422,
    );
  }
  return slot;
}

async function findByIdempotencyKey(
  db: Db,
  userId: string,
  key: string,
  requestHash: string,
): Promise<BookingAccepted | null> {
  const existing = await db
    .selectFrom('booking.bookings')
    .select(['id', 'reference', 'status', 'correlation_id', 'request_hash'])
    .where('user_id', '=', userId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
  if (!existing) return null;
  if (existing.request_hash !== requestHash) {
    throw new ConflictError(
      'This Idempotency-Key was already used for a different booking.',
      'idempotency_key_reused',
    );
  }
  return {
    id: existing.id,
    reference: existing.reference,
    status: existing.status,
    correlationId: existing.correlation_id,
  };
}

function hashRequest(request: BookingRequest): string {
  const { patient, serviceIds, slotStart } = request;
  return createHash('sha256')
    .update(JSON.stringify({ patient, serviceIds: [...serviceIds].sort(), slotStart: slotStart ?? null }))
    .digest('hex');
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const pgError = error as { code?: string; constraint?: string };
  return pgError.code === '23505' && pgError.constraint === constraint;
}

/** The booking as the API shows it (spec section 9). */
export interface BookingView {
  id: string;
  reference: string;
  status: Booking['status'];
  reason: string | null;
  correlationId: string;
  createdAt: string;
  patient: { name: string; gender: PatientGender; dateOfBirth: string };
  services: { id: string; name: string; pricePaise: number | null }[];
  pricing: {
    basePaise: number;
    discountPercent: number;
    discountPaise: number;
    finalPaise: number;
    discountApplied: boolean;
  } | null;
  /** The chosen slot, in IST with its offset; null for a walk-in. */
  appointment: { start: string; end: string } | null;
  events: { type: string; occurredAt: string }[];
  /** A change of the confirmed booking under way (its cancellation or a move), or null. */
  change: 'cancelling' | 'rescheduling' | null;
  /** The slot a reschedule under way asks for (IST with its offset), or null. */
  rescheduleTo: string | null;
}

export interface BookingFilter {
  ids?: string[];
  userId?: string;
  status?: string;
  q?: string;
  /** The bookings with a place (held or asked for) on this IST date, in appointment order. */
  appointmentDate?: string;
  limit?: number;
}

/**
 * The bookings as the API shows them, in one statement: the booking, its services and its timeline
 * come from one snapshot (a handler committing meanwhile cannot put the timeline ahead of the status),
 * in one round trip.
 */
export async function getBookingViews(db: Db, filter: BookingFilter): Promise<BookingView[]> {
  return (await readBookingViews(db, filter)).map(({ userId: _owner, ...view }) => view);
}

/**
 * One booking's view and its owner, or null. The status page polls this, so it is one statement
 * prepared once per connection (see readOneBookingView) rather than parsed and planned per request.
 */
export async function getBookingView(db: Db, id: string): Promise<(BookingView & { userId: string }) | null> {
  if (!UUID.test(id)) return null;
  const row = await readOneBookingView(db, id);
  return row ? toBookingView(row) : null;
}

type ViewLine = { id: string; name: string; pricePaise: number | null };
type ViewEvent = { type: string; occurredAt: string };

/** The columns a view reads, with its service lines and timeline. */
type ViewRow = Pick<
  Booking,
  | 'id'
  | 'user_id'
  | 'reference'
  | 'status'
  | 'reason'
  | 'correlation_id'
  | 'created_at'
  | 'patient_name'
  | 'patient_gender'
  | 'patient_date_of_birth'
  | 'base_paise'
  | 'discount_basis_points'
  | 'discount_paise'
  | 'final_paise'
  | 'discount_applied'
  | 'slot_start'
  | 'slot_end'
  | 'change'
  | 'change_slot_start'
> & { lines: ViewLine[]; steps: ViewEvent[] };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * The booking, its services and its timeline in one statement (one snapshot). It has a parameter, so
 * the pool sends it as a named statement (lib/db/database.ts): each connection parses and plans it
 * once, not on every poll. Its text is built once, here: the poll compiles nothing.
 */
const ONE_BOOKING_VIEW = `
  SELECT b.id, b.user_id, b.reference, b.status, b.reason, b.correlation_id, b.created_at, b.patient_name,
    b.patient_gender, b.patient_date_of_birth, b.base_paise, b.discount_basis_points, b.discount_paise,
    b.final_paise, b.discount_applied, b.slot_start, b.slot_end, b.change, b.change_slot_start,
    (SELECT coalesce(json_agg(json_build_object(
        'id', line.service_id, 'name', line.name, 'pricePaise', line.price_paise) ORDER BY line.position), '[]')
      FROM booking.booking_services line WHERE line.booking_id = b.id) AS lines,
    (SELECT coalesce(json_agg(json_build_object('type', step.type, 'occurredAt', step.occurred_at)
        ORDER BY step.occurred_at,
          array_position(ARRAY[${SAGA_STEP_ORDER.map((type) => `'${type}'`).join(', ')}]::text[], step.type),
          step.event_id), '[]')
      FROM booking.timeline step WHERE step.booking_id = b.id) AS steps
  FROM booking.bookings b WHERE b.id = $1`;

/**
 * One booking's view row. A connection whose copy of the statement is gone or out of date (a migration
 * changed a column under it) fails with RetryLaterError and the statement gets a new name: read again
 * at once, it is prepared anew.
 */
async function readOneBookingView(db: Db, id: string): Promise<ViewRow | null> {
  const read = async () =>
    (await db.executeQuery<ViewRow>(CompiledQuery.raw(ONE_BOOKING_VIEW, [id]))).rows[0] ?? null;
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof RetryLaterError)) throw error;
    return read();
  }
}

async function readBookingViews(
  db: Db,
  filter: BookingFilter,
): Promise<(BookingView & { userId: string })[]> {
  let query = db
    .selectFrom('booking.bookings')
    .selectAll()
    .select([
      sql<ViewLine[]>`(
        SELECT coalesce(json_agg(json_build_object(
          'id', line.service_id, 'name', line.name, 'pricePaise', line.price_paise) ORDER BY line.position), '[]')
        FROM booking.booking_services line WHERE line.booking_id = booking.bookings.id)`.as('lines'),
      sql<ViewEvent[]>`(
        SELECT coalesce(json_agg(json_build_object('type', step.type, 'occurredAt', step.occurred_at)
          ORDER BY step.occurred_at, array_position(${[...SAGA_STEP_ORDER]}::text[], step.type), step.event_id), '[]')
        FROM booking.timeline step WHERE step.booking_id = booking.bookings.id)`.as('steps'),
    ])
    .limit(filter.limit ?? 200);
  if (filter.appointmentDate) {
    const dayStart = istInstant(filter.appointmentDate, '00:00');
    query = query
      .where('slot_start', '>=', dayStart)
      .where('slot_start', '<', new Date(dayStart.getTime() + 24 * 3600_000))
      .where((eb) => eb.or([eb('slot_outcome', 'is', null), eb('slot_outcome', '!=', 'rejected')]))
      .orderBy('slot_start')
      .orderBy('created_at');
  } else {
    query = query.orderBy('created_at', 'desc').orderBy('id');
  }
  if (filter.ids) query = query.where('id', 'in', filter.ids.length > 0 ? filter.ids : [randomUUID()]);
  if (filter.userId) query = query.where('user_id', '=', filter.userId);
  if (filter.status) query = query.where('status', '=', filter.status as Booking['status']);
  if (filter.q) {
    const like = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) =>
      eb.or([
        eb('reference', 'ilike', like),
        eb('patient_name', 'ilike', like),
        eb('patient_email', 'ilike', like),
        eb(sql<string>`correlation_id::text`, '=', filter.q as string),
        eb(sql<string>`id::text`, '=', filter.q as string),
      ]),
    );
  }
  return (await query.execute()).map(toBookingView);
}

function toBookingView(booking: ViewRow): BookingView & { userId: string } {
  return {
    id: booking.id,
    userId: booking.user_id,
    reference: booking.reference,
    status: booking.status,
    reason: booking.reason,
    correlationId: booking.correlation_id,
    createdAt: booking.created_at.toISOString(),
    patient: {
      name: booking.patient_name,
      gender: booking.patient_gender,
      dateOfBirth: booking.patient_date_of_birth,
    },
    services: booking.lines,
    pricing:
      booking.final_paise === null || booking.base_paise === null
        ? null
        : {
            basePaise: booking.base_paise,
            discountPercent: (booking.discount_basis_points ?? 0) / 100,
            discountPaise: booking.discount_paise ?? 0,
            finalPaise: booking.final_paise,
            discountApplied: booking.discount_applied ?? false,
          },
    appointment:
      booking.slot_start && booking.slot_end
        ? { start: formatIst(booking.slot_start), end: formatIst(booking.slot_end) }
        : null,
    events: booking.steps.map((step) => ({
      type: step.type,
      occurredAt: new Date(step.occurredAt).toISOString(),
    })),
    change: booking.change,
    rescheduleTo:
      booking.change === 'rescheduling' && booking.change_slot_start
        ? formatIst(booking.change_slot_start)
        : null,
  };
}
