import { sql } from 'kysely';
import type { Handler, Handlers, HandlerContext } from '../bus/consumer.js';
import type { Db, Trx } from '../db/database.js';
import type { Booking } from '../db/schema.js';
import { createEvent, type Event } from '../events/catalogue.js';
import { appendToOutbox } from '../bus/outbox.js';
import { systemClock, type Clock } from '../clock.js';
import { runWithContext } from '../context.js';
import { logger } from '../logger.js';
import { withoutDiscount } from '../pricing/pricing-rules.js';
import { issueReceipt, recordRefund } from '../receipt/receipt-repository.js';
import { decide, type Decision, type Emission, type SagaInput, type SagaState } from './booking-saga.js';
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
    reference: booking.reference,
    patient: { name: booking.patient_name, email: booking.patient_email },
    finalPaise: booking.final_paise,
    reason: booking.reason,
  };
}

async function recordTimeline(trx: Trx, events: readonly Event[]): Promise<void> {
  const rows = events
    .filter((event) => event.bookingId)
    .map((event) => ({
      booking_id: event.bookingId as string,
      event_id: event.eventId,
      type: event.type,
      occurred_at: new Date(event.occurredAt),
    }));
  if (rows.length === 0) return;
  await trx
    .insertInto('booking.timeline')
    .values(rows)
    .onConflict((conflict) => conflict.doNothing())
    .execute();
}

/** Applies a decision: the new state, the timeline, and the emitted events, in the caller's transaction. */
async function apply(trx: Trx, booking: Booking, state: SagaState, emitted: Event[]): Promise<void> {
  const finished = state.status !== 'PENDING' && booking.status === 'PENDING';
  await trx
    .updateTable('booking.bookings')
    .set({
      status: state.status,
      compensating: state.compensating,
      quota_outcome: state.quotaOutcome,
      quota_released: state.quotaReleased,
      reason: state.reason,
      updated_at: sql<Date>`now()`,
      ...(finished ? { finished_at: sql<Date>`now()` } : {}),
    })
    .where('id', '=', booking.id)
    .execute();
  await recordTimeline(trx, emitted);
  if (finished) logger.info('booking finished', { status: state.status, reason: state.reason });
}

/** A saga event: record it on the timeline, run the state machine, emit what it decides. */
type SagaEventType = Exclude<SagaInput['type'], 'DeadlinePassed'>;

async function runSaga(
  event: Event<SagaEventType>,
  context: HandlerContext,
): Promise<{ before: Booking; decision: Decision }> {
  const booking = await lockBooking(context.trx, event.bookingId);
  await recordTimeline(context.trx, [event as Event]);
  const decision = decide(sagaState(booking), event as SagaInput);
  const emitted = decision.emit.map((emission) => emitFrom(context, emission));
  await apply(context.trx, booking, decision.state, emitted);
  return { before: booking, decision };
}

const sagaHandler: Handler<SagaEventType> = async (event, context) => {
  await runSaga(event, context);
};

function emitFrom(context: HandlerContext, emission: Emission): Event {
  return context.emit(emission.type, emission.data as never) as Event;
}

export function bookingHandlers({ clock = systemClock }: { clock?: Clock } = {}): Handlers {
  return {
    PricingCalculated: async (event, { trx }) => {
      const booking = await lockBooking(trx, event.bookingId);
      await recordTimeline(trx, [event]);
      const { pricing, services } = event.data;
      // The quota decision may have come first and set the price already; the lines still need theirs.
      if (booking.base_paise === null) {
        await trx
          .updateTable('booking.bookings')
          .set({
            base_paise: pricing.basePaise,
            discount_basis_points: pricing.discountBasisPoints,
            discount_eligible: pricing.discountEligible,
            updated_at: sql<Date>`now()`,
          })
          .where('id', '=', booking.id)
          .execute();
      }
      for (const line of services) {
        await trx
          .updateTable('booking.booking_services')
          .set({ price_paise: line.pricePaise, name: line.name })
          .where('booking_id', '=', booking.id)
          .where('service_id', '=', line.id)
          .where('price_paise', 'is', null)
          .execute();
      }
    },
    DiscountQuotaReserved: withFinalPricing(sagaHandler),
    DiscountQuotaSkipped: withFinalPricing(sagaHandler),
    DiscountQuotaRejected: withFinalPricing(sagaHandler),
    DiscountQuotaReleased: async (event, context) => {
      await runSaga(event, context);
      await settleCancellation(context, event.bookingId);
    },
    PaymentCompleted: async (event, context) => {
      const { before, decision } = await runSaga(event, context);
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
    PaymentFailed: sagaHandler,
    PaymentRefunded: async (event, context) => {
      const { trx } = context;
      const booking = await lockBooking(trx, event.bookingId);
      await recordTimeline(trx, [event]);
      await trx
        .updateTable('booking.bookings')
        .set({ refunded_paise: event.data.amountPaise, updated_at: sql<Date>`now()` })
        .where('id', '=', booking.id)
        .execute();
      await recordRefund(trx, {
        bookingId: booking.id,
        amountPaise: event.data.amountPaise,
        reference: event.data.gatewayReference,
        at: new Date(event.occurredAt),
      });
      await settleCancellation(context, booking.id);
    },
  };
}

/** A cancellation whose refund and releases have all arrived ends the booking: CANCELLED. */
async function settleCancellation(context: HandlerContext, bookingId: string | null): Promise<void> {
  const booking = await lockBooking(context.trx, bookingId);
  const settled = cancellationSettled({
    change: booking.change,
    status: booking.status,
    quotaOutcome: booking.quota_outcome,
    quotaReleased: booking.quota_released,
    refunded: booking.refunded_paise !== null,
  });
  if (!settled) return;
  const reason = booking.change_reason ?? 'Cancelled at the patient’s request.';
  const inviteSequence = booking.invite_sequence + 1;
  const cancelled = context.emit('BookingCancelled', {
    reference: booking.reference,
    refundPaise: booking.refunded_paise ?? 0,
    reason: booking.change_reason,
    patient: { name: booking.patient_name, email: booking.patient_email },
    inviteSequence,
  });
  await context.trx
    .updateTable('booking.bookings')
    .set({
      status: 'CANCELLED',
      change: null,
      reason,
      invite_sequence: inviteSequence,
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', booking.id)
    .execute();
  await recordTimeline(context.trx, [cancelled]);
  logger.info('booking cancelled', { refundPaise: booking.refunded_paise });
}

/** The quota decision fixes the price the patient pays: with the discount only if a slot was reserved. */
function withFinalPricing<
  T extends 'DiscountQuotaReserved' | 'DiscountQuotaSkipped' | 'DiscountQuotaRejected',
>(inner: Handler<T>): Handler<T> {
  return async (event, context) => {
    // A rejected booking shows what it would have cost, without the discount it could not get.
    const pricing =
      event.type === 'DiscountQuotaRejected' ? withoutDiscount(event.data.pricing) : event.data.pricing;
    await context.trx
      .updateTable('booking.bookings')
      .set({
        base_paise: pricing.basePaise,
        discount_basis_points: pricing.discountBasisPoints,
        discount_eligible: pricing.discountEligible,
        discount_paise: pricing.discountPaise,
        final_paise: pricing.finalPaise,
        discount_applied: event.type === 'DiscountQuotaReserved',
      })
      .where('id', '=', event.bookingId as string)
      .where('final_paise', 'is', null)
      .execute();
    await inner(event, context);
  };
}

/**
 * Fails the bookings whose saga passed its deadline, with compensation. SKIP LOCKED lets several
 * booking workers sweep at once; a booking being handled right now is taken on the next sweep.
 */
export async function failOverdueBookings(db: Db, now: Date, limit = 100): Promise<number> {
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
        await apply(trx, booking, decision.state, emitted);
        await appendToOutbox(trx, emitted);
        logger.warn('booking passed its deadline', { deadlineAt: booking.deadline_at.toISOString() });
      });
    }
    return overdue.length;
  });
}
