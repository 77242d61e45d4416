import type { BookingStatus } from '../db/schema.js';
import type { Event, EventData, EventType } from '../events/catalogue.js';

/**
 * The booking participant's state machine, pure: given the saga state and an event (in any order,
 * any number of times), what changes and what to emit. It never moves a booking backwards.
 */
export interface SagaState {
  status: BookingStatus;
  compensating: boolean;
  quotaOutcome: 'reserved' | 'skipped' | 'rejected' | null;
  quotaReleased: boolean;
  slotOutcome: 'reserved' | 'skipped' | 'rejected' | null;
  slotReleased: boolean;
  /** What the booking heard of its payment (a late one included), and whether a refund was confirmed. */
  paymentOutcome: 'completed' | 'failed' | null;
  refunded: boolean;
  /** A cancellation of the confirmed booking is under way (its releases and refund not all heard). */
  cancelling: boolean;
  /** A move of the confirmed booking to another slot is under way (its outcome not yet heard). */
  rescheduling?: boolean;
  reference: string;
  patient: { name: string; email: string };
  finalPaise: number | null;
  /** Why the booking is compensating or ended. */
  reason: string | null;
}

export type Emission = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];

export interface Decision {
  state: SagaState;
  emit: Emission[];
}

/**
 * The saga's steps in order. Events the booking participant emits together (CompensationTriggered and
 * BookingFailed) share a millisecond; timelines break such ties by this order, not by random event ids.
 */
export const SAGA_STEP_ORDER = [
  'BookingRequested',
  'SlotReserved',
  'SlotSkipped',
  'SlotRejected',
  'PricingCalculated',
  'DiscountQuotaReserved',
  'DiscountQuotaSkipped',
  'DiscountQuotaRejected',
  'PaymentCompleted',
  'PaymentFailed',
  'CompensationTriggered',
  // A reschedule takes the new place and gives the old one back in one step: the new one shows first.
  'RescheduleRequested',
  'SlotReleased',
  'DiscountQuotaReleased',
  'BookingConfirmed',
  'BookingRejected',
  'BookingFailed',
  'CancellationRequested',
  'PaymentRefunded',
  'BookingCancelled',
  'RescheduleRejected',
  'BookingRescheduled',
] as const satisfies readonly EventType[];

export const QUOTA_REJECTED_REASON = 'Daily discount quota reached. Please try again tomorrow.';
export const SLOT_REJECTED_REASON = 'That time is no longer available. Please choose another.';
export const RESCHEDULE_REJECTED_REASON =
  'That time is no longer available. The booking keeps its time; please choose another.';
export const DEADLINE_REASON = 'The booking could not be completed in time. Any payment taken is refunded.';

export type SagaInput =
  | Event<'SlotReserved' | 'SlotSkipped' | 'SlotRejected' | 'SlotReleased'>
  | Event<
      'DiscountQuotaReserved' | 'DiscountQuotaSkipped' | 'DiscountQuotaRejected' | 'DiscountQuotaReleased'
    >
  | Event<'PaymentCompleted' | 'PaymentFailed' | 'PaymentRefunded'>
  | { type: 'DeadlinePassed' };

export function decide(current: SagaState, input: SagaInput): Decision {
  const state = { ...current };
  const pending = state.status === 'PENDING';
  switch (input.type) {
    case 'SlotReserved':
    case 'SlotSkipped':
      state.slotOutcome ??= input.type === 'SlotReserved' ? 'reserved' : 'skipped';
      return settle(state);
    case 'SlotRejected':
      state.slotOutcome ??= 'rejected';
      if (!pending || state.compensating) return settleCompensation(state);
      state.status = 'REJECTED';
      state.reason = input.data.reason;
      return { state, emit: [{ type: 'BookingRejected', data: { reason: input.data.reason } }] };
    case 'SlotReleased':
      state.slotReleased = true;
      return settleCompensation(state);
    case 'DiscountQuotaReserved':
    case 'DiscountQuotaSkipped':
      state.quotaOutcome ??= input.type === 'DiscountQuotaReserved' ? 'reserved' : 'skipped';
      state.finalPaise ??= input.data.pricing.finalPaise;
      return settle(state);
    case 'DiscountQuotaRejected':
      state.quotaOutcome ??= 'rejected';
      // Already compensating (its payment failed first): a rejection holds nothing, so it can fail now.
      if (state.compensating) return settleCompensation(state);
      if (!pending) return { state, emit: [] };
      state.status = 'REJECTED';
      state.reason = input.data.reason;
      return { state, emit: [{ type: 'BookingRejected', data: { reason: input.data.reason } }] };
    case 'DiscountQuotaReleased':
      state.quotaReleased = true;
      return settleCompensation(state);
    case 'PaymentCompleted':
      state.paymentOutcome ??= 'completed';
      // A payment for a booking already failing is refunded by the payment participant.
      if (!pending || state.compensating) return { state, emit: [] };
      return confirmWhenSettled(state);
    case 'PaymentRefunded':
      state.refunded = true;
      return { state, emit: [] };
    case 'PaymentFailed': {
      state.paymentOutcome ??= 'failed';
      if (!pending || state.compensating) return { state, emit: [] };
      state.compensating = true;
      state.reason = `Payment failed: ${input.data.reason}`;
      const trigger: Emission = {
        type: 'CompensationTriggered',
        data: { reason: state.reason, cause: 'payment_failed' },
      };
      const settled = settleCompensation(state);
      return { ...settled, emit: [trigger, ...settled.emit] };
    }
    case 'DeadlinePassed': {
      if (!pending) return { state, emit: [] };
      // Past its deadline the patient is told at once; releases and refunds follow the trigger.
      const emit: Emission[] = state.compensating
        ? []
        : [{ type: 'CompensationTriggered', data: { reason: DEADLINE_REASON, cause: 'deadline' } }];
      state.compensating = true;
      state.status = 'FAILED';
      state.reason = DEADLINE_REASON;
      return { state, emit: [...emit, { type: 'BookingFailed', data: { reason: DEADLINE_REASON } }] };
    }
  }
}

function settle(state: SagaState): Decision {
  return state.compensating ? settleCompensation(state) : confirmWhenSettled(state);
}

/**
 * A paid booking confirms once it has also heard how its place and its discount were settled: a
 * payment can overtake an event Redis lost on the way to the booking, and a booking confirmed without
 * that event would not know its price or what to give back on a cancellation. The re-drive brings it.
 */
function confirmWhenSettled(state: SagaState): Decision {
  const settledBefore = (outcome: SagaState['slotOutcome']) =>
    outcome === 'reserved' || outcome === 'skipped';
  if (
    state.status !== 'PENDING' ||
    state.paymentOutcome !== 'completed' ||
    !settledBefore(state.slotOutcome) ||
    !settledBefore(state.quotaOutcome) ||
    state.finalPaise === null
  )
    return { state, emit: [] };
  state.status = 'CONFIRMED';
  return {
    state,
    emit: [
      {
        type: 'BookingConfirmed',
        data: { reference: state.reference, finalPaise: state.finalPaise, patient: state.patient },
      },
    ],
  };
}

/** Nothing held by a step: it took nothing, or what it took was given back. */
function freed(outcome: SagaState['quotaOutcome'], released: boolean): boolean {
  return outcome === 'skipped' || outcome === 'rejected' || (outcome === 'reserved' && released);
}

/** A compensating booking fails once nothing it reserved (its place, its discount) is still held. */
function settleCompensation(state: SagaState): Decision {
  if (state.status !== 'PENDING' || !state.compensating) return { state, emit: [] };
  const nothingHeld =
    freed(state.slotOutcome, state.slotReleased) && freed(state.quotaOutcome, state.quotaReleased);
  if (!nothingHeld) return { state, emit: [] };
  state.status = 'FAILED';
  state.reason ??= 'The booking failed.';
  return { state, emit: [{ type: 'BookingFailed', data: { reason: state.reason } }] };
}

/**
 * What a saga still waits on, from the booking's own record, for a re-drive when it never comes (Redis
 * lost the event that would bring it): the saga's own event to publish again, and whether something is
 * known to be owed (`owed`) or only not confirmed (the participant may have had nothing to do).
 * A new step of the saga fits here as one more case.
 */
export type Awaited = {
  event:
    | 'BookingRequested'
    | 'CompensationTriggered'
    | 'BookingConfirmed'
    | 'BookingRejected'
    | 'CancellationRequested'
    | 'RescheduleRequested';
  owed: boolean;
};

export function awaitedStep(state: SagaState): Awaited | null {
  const slotHeld = state.slotOutcome === 'reserved' && !state.slotReleased;
  if (state.compensating) {
    const quotaHeld = state.quotaOutcome === 'reserved' && !state.quotaReleased;
    const moneyHeld = state.paymentOutcome === 'completed' && !state.refunded;
    if (quotaHeld || moneyHeld || slotHeld) return { event: 'CompensationTriggered', owed: true };
    // Not heard from: a place, a reservation or a charge may exist that the booking never learnt of.
    const slotUnknown = state.slotOutcome === null;
    const quotaUnknown = state.quotaOutcome === null && state.slotOutcome !== 'rejected';
    const paymentUnknown =
      state.paymentOutcome === null && state.quotaOutcome !== 'rejected' && state.slotOutcome !== 'rejected';
    return slotUnknown || quotaUnknown || paymentUnknown
      ? { event: 'CompensationTriggered', owed: false }
      : null;
  }
  // Rejected by the quota after its place was taken: the rejection is what gives the place back.
  if (state.status === 'REJECTED' && slotHeld) return { event: 'BookingRejected', owed: true };
  if (state.status === 'PENDING') return { event: 'BookingRequested', owed: true };
  if (state.cancelling) return { event: 'CancellationRequested', owed: true };
  if (state.rescheduling) return { event: 'RescheduleRequested', owed: true };
  // A confirmed booking waits on nothing: the confirmation participant, which alone knows whether its
  // message went out, asks for a BookingConfirmed it never heard of (lib/confirmation/confirmation-sweep.ts).
  return null;
}
