import { sql, type QueryCreator } from 'kysely';
import type { Handler, Handlers, HandlerContext } from '../bus/consumer.js';
import type { Db, Trx } from '../db/database.js';
import type { Booking, Database } from '../db/schema.js';
import { createEvent, type Event } from '../events/catalogue.js';
import { appendToOutbox, republish } from '../bus/outbox.js';
import { systemClock, type Clock } from '../clock.js';
import { runWithContext } from '../context.js';
import { logger } from '../logger.js';
import { withoutDiscount } from '../pricing/pricing-rules.js';
import { issueReceipt, recordRefund } from '../receipt/receipt-repository.js';
import {
  awaitedStep,
  decide,
  type Decision,
  type Emission,
  type SagaInput,
  type SagaState,
} from './booking-saga.js';
import { formatIst } from '../scheduling/slot-rules.js';
import { cancellationSettled } from './change-rules.js';

async function lockBooking(trx: Trx, bookingId: string | null): Promise<Booking> {
  if (!bookingId) throw new Error('event without a booking id');
  const booking = await trx
    .selectFrom('booking.bookings')
    .selectAll()
    .where('id', '=', bookingId)
    .forUpdate()
    .executeTakeFirst();
  if (!booking) throw new Error(`unknown booking ${bookingId}`);
  return booking;
}

function sagaState(booking: Booking): SagaState {
  return {
    status: booking.status,
    compensating: booking.compensating,
    quotaOutcome: booking.quota_outcome,
    quotaReleased: booking.quota_released,
    slotOutcome: booking.slot_outcome,
    slotReleased: booking.slot_released,
    paymentOutcome: booking.payment_outcome,
    refunded: booking.refunded,
    cancelling: booking.change === 'cancelling',
    rescheduling: booking.change === 'rescheduling',
    reference: booking.reference,
    patient: { name: booking.patient_name, email: booking.patient_email },
    finalPaise: booking.final_paise,
    reason: booking.reason,
  };
}

const timelineRows = (events: readonly Event[]) =>
  events
    .filter((event) => event.bookingId)
    .map((event) => ({
      booking_id: event.bookingId as string,
      event_id: event.eventId,
      type: event.type,
      occurred_at: new Date(event.occurredAt),
    }));

async function recordTimeline(trx: Trx, events: readonly Event[]): Promise<void> {
  const rows = timelineRows(events);
  if (rows.length === 0) return;
  await trx
    .insertInto('booking.timeline')
    .values(rows)
    .onConflict((conflict) => conflict.doNothing())
    .execute();
}

/** The booking's update and its new timeline steps, in one statement. */
function updateWithSteps(trx: Trx, events: readonly Event[]) {
  const rows = timelineRows(events);
  if (rows.length === 0) return trx.updateTable('booking.bookings');
  return trx
    .with('steps', (qb) =>
      qb
        .insertInto('booking.timeline')
        .values(rows)
        .onConflict((conflict) => conflict.doNothing()),
    )
    .updateTable('booking.bookings');
}

/** The booking's lines not priced yet take their price and name from pricing, all in one UPDATE. */
function priceLines(
  qb: QueryCreator<Database>,
  bookingId: string,
  services: readonly { id: string; name: string; pricePaise: number }[],
) {
  const priced = sql<{ service_id: string; name: string; price_paise: number }>`unnest(
    ${services.map((line) => line.id)}::uuid[],
    ${services.map((line) => line.name)}::text[],
    ${services.map((line) => line.pricePaise)}::integer[])`.as<'priced'>(
    sql`priced (service_id, name, price_paise)`,
  );
  return qb
    .updateTable('booking.booking_services as line')
    .from(priced)
    .set((eb) => ({ price_paise: eb.ref('priced.price_paise'), name: eb.ref('priced.name') }))
    .where('line.booking_id', '=', bookingId)
    .whereRef('line.service_id', '=', 'priced.service_id')
    .where('line.price_paise', 'is', null);
}

export interface RedriveOptions {
  /** A saga that made no progress for this long is asked again for what it waits on. */
  afterMs: number;
  /** Re-drives of one saga before giving up (logged): the limit for what is only not confirmed is 1. */
  limit: number;
}

/** The price the quota decision fixes, written with the saga's update (empty: nothing to write). */
type BookingPricing = Partial<
  Pick<
    Booking,
    | 'base_paise'
    | 'discount_basis_points'
    | 'discount_eligible'
    | 'discount_paise'
    | 'final_paise'
    | 'discount_applied'
  >
>;

/**
 * Applies a decision in the caller's transaction: the new state, and on the timeline the emitted events
 * (after `handled`, the event decided on, if any: one insert for both).
 */
async function apply(
  trx: Trx,
  booking: Booking,
  state: SagaState,
  emitted: Event[],
  redrive: RedriveOptions,
  handled: Event[] = [],
  pricing: BookingPricing = {},
): Promise<void> {
  const finished = state.status !== 'PENDING' && booking.status === 'PENDING';
  const progressed = JSON.stringify(state) !== JSON.stringify(sagaState(booking));
  await updateWithSteps(trx, [...handled, ...emitted])
    .set({
      ...pricing,
      status: state.status,
      compensating: state.compensating,
      quota_outcome: state.quotaOutcome,
      quota_released: state.quotaReleased,
      slot_outcome: state.slotOutcome,
      slot_released: state.slotReleased,
      payment_outcome: state.paymentOutcome,
      refunded: state.refunded,
      reason: state.reason,
      updated_at: sql<Date>`now()`,
      ...(finished ? { finished_at: sql<Date>`now()` } : {}),
      // Progress restarts the re-drive clock; a duplicate leaves it as it was.
      ...(progressed
        ? {
            redrives: 0,
            redrive_at: awaitedStep(state)
              ? sql<Date>`now() + ${redrive.afterMs} * interval '1 millisecond'`
              : null,
          }
        : {}),
    })
    .where('id', '=', booking.id)
    .execute();
  if (finished) logger.info('booking finished', { status: state.status, reason: state.reason });
}

/** A saga event: record it on the timeline, run the state machine, emit what it decides. */
type SagaEventType = Exclude<SagaInput['type'], 'DeadlinePassed'>;

async function runSaga(
  event: Event<SagaEventType>,
  context: HandlerContext,
  redrive: RedriveOptions,
  pricing: BookingPricing = {},
): Promise<{ before: Booking; decision: Decision }> {
  const locked = await lockBooking(context.trx, event.bookingId);
  // A booking priced before keeps its price; the saga decides on the booking with the price it has.
  const priced = locked.final_paise === null ? pricing : {};
  const booking = { ...locked, ...priced };
  const decision = decide(sagaState(booking), event as SagaInput);
  const emitted = decision.emit.map((emission) => emitFrom(context, emission));
  await apply(context.trx, booking, decision.state, emitted, redrive, [event as Event], priced);
  return { before: booking, decision };
}

const sagaHandler =
  (redrive: RedriveOptions): Handler<SagaEventType> =>
  async (event, context) => {
    await runSaga(event, context, redrive);
  };

function emitFrom(context: HandlerContext, emission: Emission): Event {
  return context.emit(emission.type, emission.data as never) as Event;
}

export function bookingHandlers(
  redrive: RedriveOptions,
  { clock = systemClock }: { clock?: Clock } = {},
): Handlers {
  const saga = sagaHandler(redrive);
  const quotaDecided = quotaDecisionHandler(redrive);
  return {
    PricingCalculated: async (event, { trx }) => {
      const booking = await lockBooking(trx, event.bookingId);
      const { pricing, services } = event.data;
      // One statement: the lines' prices, the step on the timeline and the booking's price.
      const priced = trx.with('lines', (qb) => priceLines(qb, booking.id, services));
      const step = timelineRows([event]);
      // The quota decision may have come first and set the price already; the lines still need theirs.
      if (booking.base_paise !== null) {
        await priced
          .insertInto('booking.timeline')
          .values(step)
          .onConflict((conflict) => conflict.doNothing())
          .execute();
        return;
      }
      await priced
        .with('steps', (qb) =>
          qb
            .insertInto('booking.timeline')
            .values(step)
            .onConflict((conflict) => conflict.doNothing()),
        )
        .updateTable('booking.bookings')
        .set({
          base_paise: pricing.basePaise,
          discount_basis_points: pricing.discountBasisPoints,
          discount_eligible: pricing.discountEligible,
          updated_at: sql<Date>`now()`,
        })
        .where('id', '=', booking.id)
        .execute();
    },
    SlotReserved: async (event, context) => {
      if ('cause' in event.data) await newPlaceReserved(event, event.data, context);
      else await saga(event, context);
    },
    SlotSkipped: saga,
    SlotRejected: saga,
    SlotReleased: async (event, context) => {
      if (event.data.cause === 'reschedule') {
        await oldPlaceReleased(event, context);
        return;
      }
      await runSaga(event, context, redrive);
      await settleCancellation(context, event.bookingId, redrive);
    },
    RescheduleRejected: async (event, context) => {
      const booking = await lockBooking(context.trx, event.bookingId);
      if (!answersMove(booking, event)) return;
      await recordTimeline(context.trx, [event]);
      // The booking keeps its slot and stays confirmed.
      await context.trx
        .updateTable('booking.bookings')
        .set(changeSettled)
        .where('id', '=', booking.id)
        .execute();
      logger.info('reschedule rejected', { slotStart: event.data.slotStart });
    },
    DiscountQuotaReserved: quotaDecided,
    DiscountQuotaSkipped: quotaDecided,
    DiscountQuotaRejected: quotaDecided,
    DiscountQuotaReleased: async (event, context) => {
      await runSaga(event, context, redrive);
      await settleCancellation(context, event.bookingId, redrive);
    },
    PaymentCompleted: async (event, context) => {
      const { before, decision } = await runSaga(event, context, redrive);
      // The receipt number is taken in the confirming transaction: no gap if it rolls back.
      if (before.status !== 'CONFIRMED' && decision.state.status === 'CONFIRMED') {
        await issueReceipt(context.trx, {
          bookingId: before.id,
          amountPaise: event.data.amountPaise,
          paymentReference: event.data.gatewayReference,
          at: clock.now(),
        });
      }
    },
    PaymentFailed: saga,
    PaymentRefunded: async (event, context) => {
      await runSaga(event, context, redrive);
      await recordRefund(context.trx, {
        bookingId: event.bookingId as string,
        amountPaise: event.data.amountPaise,
        reference: event.data.gatewayReference,
        at: new Date(event.occurredAt),
      });
      await settleCancellation(context, event.bookingId, redrive);
    },
  };
}

/**
 * A move is two answers from scheduling, written in one transaction: the new place reserved, then the
 * old one released (none for a walk-in). They may arrive in either order; the move settles on the
 * second, so its timeline is whole once BookingRescheduled is on it.
 */
async function newPlaceReserved(
  event: Event<'SlotReserved'>,
  data: { slotStart: string; slotEnd: string; previousSlotStart: string | null },
  context: HandlerContext,
): Promise<void> {
  const booking = await lockBooking(context.trx, event.bookingId);
  // Only the answer to the move under way counts (a redelivered one is on the timeline already).
  if (!answersMove(booking, event)) return;
  await recordTimeline(context.trx, [event]);
  const to = { start: new Date(data.slotStart), end: new Date(data.slotEnd) };
  if (data.previousSlotStart === null || booking.slot_released) {
    await move(context, booking, to);
    return;
  }
  await context.trx
    .updateTable('booking.bookings')
    .set({ change_slot_end: to.end, updated_at: sql<Date>`now()` })
    .where('id', '=', booking.id)
    .execute();
}

async function oldPlaceReleased(event: Event<'SlotReleased'>, context: HandlerContext): Promise<void> {
  const booking = await lockBooking(context.trx, event.bookingId);
  await recordTimeline(context.trx, [event]);
  if (!answersMove(booking, event)) return;
  // change_slot_start is the time asked for (set with the request); its end comes with the reservation.
  if (booking.change_slot_start && booking.change_slot_end) {
    await move(context, booking, { start: booking.change_slot_start, end: booking.change_slot_end });
    return;
  }
  // Ahead of the reservation: the booking keeps its old times until the new place is confirmed.
  await context.trx
    .updateTable('booking.bookings')
    .set({ slot_released: true, updated_at: sql<Date>`now()` })
    .where('id', '=', booking.id)
    .execute();
}

/** Both answers are in: the booking moves to its new place and says so. */
async function move(
  context: HandlerContext,
  booking: Booking,
  to: { start: Date; end: Date },
): Promise<void> {
  const inviteSequence = booking.invite_sequence + 1;
  const rescheduled = context.emit('BookingRescheduled', {
    reference: booking.reference,
    previous:
      booking.slot_start && booking.slot_end
        ? { start: formatIst(booking.slot_start), end: formatIst(booking.slot_end) }
        : null,
    appointment: { start: formatIst(to.start), end: formatIst(to.end) },
    reason: booking.change_reason,
    patient: { name: booking.patient_name, email: booking.patient_email },
    inviteSequence,
  });
  await context.trx
    .updateTable('booking.bookings')
    .set({
      slot_start: to.start,
      slot_end: to.end,
      // A walk-in given a time now holds a place that a cancellation gives back.
      slot_outcome: 'reserved',
      slot_released: false,
      invite_sequence: inviteSequence,
      ...changeSettled,
    })
    .where('id', '=', booking.id)
    .execute();
  await recordTimeline(context.trx, [rescheduled]);
  logger.info('booking rescheduled', { slotStart: formatIst(to.start) });
}

function answersMove(booking: Booking, event: Event): boolean {
  return booking.change === 'rescheduling' && booking.change_event_id === event.causationId;
}

/** A reschedule answered either way: no change under way, nothing to re-drive. */
const changeSettled = {
  change: null,
  change_slot_start: null,
  change_slot_end: null,
  change_event_id: null,
  redrives: 0,
  redrive_at: null,
  updated_at: sql<Date>`now()`,
};

/** A cancellation whose refund and releases have all arrived ends the booking: CANCELLED. */
async function settleCancellation(
  context: HandlerContext,
  bookingId: string | null,
  redrive: RedriveOptions,
): Promise<void> {
  const booking = await lockBooking(context.trx, bookingId);
  const settled = cancellationSettled({
    change: booking.change,
    status: booking.status,
    quotaOutcome: booking.quota_outcome,
    quotaReleased: booking.quota_released,
    slotOutcome: booking.slot_outcome,
    slotReleased: booking.slot_released,
    refunded: booking.refunded,
  });
  if (!settled) return;
  const receipt = await context.trx
    .selectFrom('booking.receipts')
    .select('refunded_paise')
    .where('booking_id', '=', booking.id)
    .executeTakeFirst();
  const inviteSequence = booking.invite_sequence + 1;
  const cancelled = context.emit('BookingCancelled', {
    reference: booking.reference,
    refundPaise: receipt?.refunded_paise ?? booking.final_paise ?? 0,
    reason: booking.change_reason,
    patient: { name: booking.patient_name, email: booking.patient_email },
    inviteSequence,
  });
  const state: SagaState = { ...sagaState(booking), status: 'CANCELLED', cancelling: false };
  await apply(context.trx, booking, state, [cancelled], redrive);
  await context.trx
    .updateTable('booking.bookings')
    .set({
      change: null,
      reason: booking.change_reason ?? 'Cancelled at the patient’s request.',
      invite_sequence: inviteSequence,
      finished_at: sql<Date>`now()`,
    })
    .where('id', '=', booking.id)
    .execute();
  logger.info('booking cancelled', { refundPaise: receipt?.refunded_paise });
}

/** The quota decision fixes the price the patient pays: with the discount only if a slot was reserved. */
function quotaDecisionHandler(
  redrive: RedriveOptions,
): Handler<'DiscountQuotaReserved' | 'DiscountQuotaSkipped' | 'DiscountQuotaRejected'> {
  return async (event, context) => {
    // A rejected booking shows what it would have cost, without the discount it could not get.
    const pricing =
      event.type === 'DiscountQuotaRejected' ? withoutDiscount(event.data.pricing) : event.data.pricing;
    await runSaga(event, context, redrive, {
      base_paise: pricing.basePaise,
      discount_basis_points: pricing.discountBasisPoints,
      discount_eligible: pricing.discountEligible,
      discount_paise: pricing.discountPaise,
      final_paise: pricing.finalPaise,
      discount_applied: event.type === 'DiscountQuotaReserved',
    });
  };
}

/**
 * Fails the bookings whose saga passed its deadline, with compensation. SKIP LOCKED lets several
 * booking workers sweep at once; a booking being handled right now is taken on the next sweep.
 */
export async function failOverdueBookings(
  db: Db,
  now: Date,
  redrive: RedriveOptions,
  limit = 100,
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const overdue = await trx
      .selectFrom('booking.bookings')
      .selectAll()
      .where('status', '=', 'PENDING')
      .where('deadline_at', '<', now)
      .orderBy('deadline_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    for (const booking of overdue) {
      await runWithContext({ correlationId: booking.correlation_id, bookingId: booking.id }, async () => {
        const decision = decide(sagaState(booking), { type: 'DeadlinePassed' });
        const origin = { bookingId: booking.id, correlationId: booking.correlation_id, causationId: null };
        const emitted = decision.emit.map(
          (emission) => createEvent(emission.type, emission.data as never, origin) as Event,
        );
        await apply(trx, booking, decision.state, emitted, redrive);
        await appendToOutbox(trx, emitted);
        logger.warn('booking passed its deadline', { deadlineAt: booking.deadline_at.toISOString() });
      });
    }
    return overdue.length;
  });
}

/**
 * Re-drives sagas that made no progress for a while: publishes again (same event id) the saga's own
 * event for the step it waits on. Participants that had it skip it but publish again what it led to,
 * so an event Redis lost is made good along the whole chain. Returns how many sagas were re-driven.
 */
export async function redriveStalledSagas(
  db: Db,
  now: Date,
  redrive: RedriveOptions,
  limit = 100,
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const stalled = await trx
      .selectFrom('booking.bookings')
      .selectAll()
      .where((eb) =>
        eb.or([
          // Through the armed sagas' index: redrive_at itself is in none, so a step moves it in place.
          eb.and([eb('redrive_armed', '=', true), eb('redrive_at', '<', now)]),
          // Requested before a request armed the clock (migration 0012) and never heard from since.
          eb.and([
            eb('redrive_at', 'is', null),
            eb('redrives', '=', 0),
            eb('status', '=', 'PENDING'),
            eb('updated_at', '<', new Date(now.getTime() - redrive.afterMs)),
          ]),
        ]),
      )
      .orderBy('updated_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    let redriven = 0;
    for (const booking of stalled) {
      await runWithContext({ correlationId: booking.correlation_id, bookingId: booking.id }, async () => {
        const awaited = awaitedStep(sagaState(booking));
        const limitFor = awaited?.owed ? redrive.limit : Math.min(redrive.limit, 1);
        const event = awaited
          ? await trx
              .selectFrom('booking.timeline')
              .select('event_id')
              .where('booking_id', '=', booking.id)
              .where('type', '=', awaited.event)
              // A booking moved more than once: the request still waiting is the latest.
              .orderBy('occurred_at', 'desc')
              .executeTakeFirst()
          : undefined;
        const attempt = booking.redrives + 1;
        if (awaited && event && booking.redrives < limitFor) {
          const published = await republish(trx, [event.event_id]);
          // A row past the outbox's retention is gone: nothing left to publish again.
          if (published === 0)
            logger.warn('re-drive found no event to publish again', { type: awaited.event });
          else logger.warn('saga re-driven', { type: awaited.event, attempt, status: booking.status });
          redriven++;
        } else if (awaited?.owed) {
          logger.error('saga still waits after its re-drives; see the runbook', { type: awaited.event });
        }
        const again = awaited && attempt < limitFor;
        await trx
          .updateTable('booking.bookings')
          .set({
            redrives: attempt,
            // Each re-drive waits twice as long as the one before.
            redrive_at: again ? new Date(now.getTime() + redrive.afterMs * 2 ** attempt) : null,
          })
          .where('id', '=', booking.id)
          .execute();
      });
    }
    return redriven;
  });
}
