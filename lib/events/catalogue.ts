import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { scheduleSchema } from '../scheduling/slot-rules.js';

/**
 * The event catalogue: every event of the saga, its stream and the schema of its data.
 * Streams are named by the participant that emits them; consumers subscribe to the streams they need.
 */
const paise = z.number().int().nonnegative();
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const gender = z.enum(['female', 'male', 'other']);
const mode = z.enum(['success', 'fail', 'random']);

const pricing = z.object({
  basePaise: paise,
  discountEligible: z.boolean(),
  eligibility: z.enum(['birthday', 'amount']).nullable(),
  discountBasisPoints: z.number().int().min(0).max(10_000),
  discountPaise: paise,
  finalPaise: paise,
});

const pricedLine = z.object({ id: z.uuid(), name: z.string(), pricePaise: paise });

/** A slot's start or end: an ISO time with its offset (the clinic writes +05:30). */
const instant = z.iso.datetime({ offset: true });

/** What pricing needs of the request, carried on the slot decision so pricing keeps no copy of it. */
const pricingRequest = z.object({
  serviceIds: z.array(z.uuid()).min(1),
  patient: z.object({ gender, dateOfBirth: isoDate }),
});

/** A place held in a slot, for a new booking or for the new time of a reschedule. */
const placeHeld = {
  slotStart: instant,
  slotEnd: instant,
  scheduleVersion: z.number().int().positive(),
};

const quotaDecision = z.object({
  pricing,
  day: isoDate.nullable(),
});

export const catalogue = {
  BookingRequested: {
    stream: 'booking',
    version: 1,
    data: z.object({
      reference: z.string(),
      userId: z.uuid(),
      patient: z.object({
        name: z.string(),
        gender,
        dateOfBirth: isoDate,
        phone: z.string(),
        email: z.string(),
      }),
      serviceIds: z.array(z.uuid()).min(1),
      /** The chosen appointment; null for a walk-in. */
      slotStart: instant.nullable().default(null),
    }),
  },
  SlotReserved: {
    stream: 'scheduling',
    version: 1,
    data: z.union([
      z.object({ ...placeHeld, request: pricingRequest }),
      // A reschedule's new place: the booking is priced already, so pricing takes no notice of it.
      z.object({ ...placeHeld, cause: z.literal('reschedule'), previousSlotStart: instant.nullable() }),
    ]),
  },
  SlotSkipped: { stream: 'scheduling', version: 1, data: z.object({ request: pricingRequest }) },
  SlotRejected: {
    stream: 'scheduling',
    version: 1,
    data: z.object({ slotStart: instant, reason: z.string() }),
  },
  SlotReleased: {
    stream: 'scheduling',
    version: 1,
    data: z.object({
      slotStart: instant,
      /** 'reschedule': the old place of a booking moved to another slot (the booking still holds one). */
      cause: z.literal('reschedule').optional(),
    }),
  },
  PricingCalculated: {
    stream: 'pricing',
    version: 1,
    data: z.object({ services: z.array(pricedLine).min(1), pricing, today: isoDate }),
  },
  DiscountQuotaReserved: { stream: 'quota', version: 1, data: quotaDecision },
  DiscountQuotaSkipped: { stream: 'quota', version: 1, data: quotaDecision },
  DiscountQuotaRejected: {
    stream: 'quota',
    version: 1,
    data: quotaDecision.extend({ reason: z.string() }),
  },
  DiscountQuotaReleased: { stream: 'quota', version: 1, data: z.object({ day: isoDate }) },
  PaymentCompleted: {
    stream: 'payment',
    version: 1,
    data: z.object({ amountPaise: paise, gatewayReference: z.string() }),
  },
  PaymentFailed: {
    stream: 'payment',
    version: 1,
    data: z.object({ amountPaise: paise, reason: z.string() }),
  },
  PaymentRefunded: {
    stream: 'payment',
    version: 1,
    data: z.object({ amountPaise: paise, gatewayReference: z.string(), reason: z.string() }),
  },
  CompensationTriggered: {
    stream: 'booking',
    version: 1,
    data: z.object({ reason: z.string(), cause: z.enum(['payment_failed', 'deadline']) }),
  },
  BookingConfirmed: {
    stream: 'booking',
    version: 1,
    data: z.object({
      reference: z.string(),
      finalPaise: paise,
      patient: z.object({ name: z.string(), email: z.string() }),
    }),
  },
  BookingRejected: { stream: 'booking', version: 1, data: z.object({ reason: z.string() }) },
  BookingFailed: { stream: 'booking', version: 1, data: z.object({ reason: z.string() }) },
  CancellationRequested: {
    stream: 'booking',
    version: 1,
    data: z.object({
      reference: z.string(),
      reason: z.string().nullable(),
      requestedBy: z.enum(['patient', 'admin']),
      /** Who asked, as the audit trail names them (an email). */
      actor: z.string(),
    }),
  },
  BookingCancelled: {
    stream: 'booking',
    version: 1,
    data: z.object({
      reference: z.string(),
      refundPaise: paise,
      reason: z.string().nullable(),
      patient: z.object({ name: z.string(), email: z.string() }),
      /** The SEQUENCE of the invite that withdraws the calendar entry (above every invite sent). */
      inviteSequence: z.number().int().positive(),
    }),
  },
  RescheduleRequested: {
    stream: 'booking',
    version: 1,
    data: z.object({
      reference: z.string(),
      /** The slot asked for, and the one the booking holds now (null for a walk-in). */
      slotStart: instant,
      previousSlotStart: instant.nullable(),
      reason: z.string().nullable(),
      requestedBy: z.enum(['patient', 'admin']),
      /** Who asked, as the audit trail names them (an email). */
      actor: z.string(),
    }),
  },
  RescheduleRejected: {
    stream: 'scheduling',
    version: 1,
    data: z.object({ slotStart: instant, reason: z.string() }),
  },
  BookingRescheduled: {
    stream: 'booking',
    version: 1,
    data: z.object({
      reference: z.string(),
      previous: z.object({ start: instant, end: instant }).nullable(),
      appointment: z.object({ start: instant, end: instant }),
      reason: z.string().nullable(),
      patient: z.object({ name: z.string(), email: z.string() }),
      /** The SEQUENCE of the updated invite (above every invite sent before it). */
      inviteSequence: z.number().int().positive(),
    }),
  },
  ConfigChanged: {
    stream: 'config',
    version: 1,
    data: z.object({
      configVersion: z.number().int().positive(),
      discountBasisPoints: z.number().int().min(0).max(10_000),
      dailyDiscountQuota: z.number().int().nonnegative(),
      // null: no admin choice, each payment worker runs as its environment says.
      paymentSimulationMode: mode.nullable(),
      paymentFailureRate: z.number().min(0).max(1).nullable(),
      actor: z.string(),
    }),
  },
  ScheduleChanged: {
    stream: 'config',
    version: 1,
    data: z.object({
      scheduleVersion: z.number().int().positive(),
      schedule: scheduleSchema,
      actor: z.string(),
    }),
  },
} as const;

export type EventType = keyof typeof catalogue;
export type EventData<T extends EventType> = z.infer<(typeof catalogue)[T]['data']>;
export const eventTypes = Object.keys(catalogue) as EventType[];
export const streamNames = [...new Set(Object.values(catalogue).map((entry) => entry.stream))];

const envelopeSchema = z.object({
  eventId: z.uuid(),
  type: z.enum(eventTypes as [EventType, ...EventType[]]),
  version: z.number().int().positive(),
  bookingId: z.uuid().nullable(),
  correlationId: z.uuid(),
  causationId: z.uuid().nullable(),
  occurredAt: z.iso.datetime(),
  data: z.unknown(),
});

export type Event<T extends EventType = EventType> = {
  [K in T]: Omit<z.infer<typeof envelopeSchema>, 'type' | 'data'> & { type: K; data: EventData<K> };
}[T];

export class InvalidEventError extends Error {}

/** Validates an envelope and its data against the catalogue; throws InvalidEventError. */
export function parseEvent(raw: unknown): Event {
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) throw new InvalidEventError(`invalid envelope: ${z.prettifyError(envelope.error)}`);
  const entry = catalogue[envelope.data.type];
  if (envelope.data.version !== entry.version) {
    throw new InvalidEventError(`unsupported version ${envelope.data.version} of ${envelope.data.type}`);
  }
  const data = entry.data.safeParse(envelope.data.data);
  if (!data.success)
    throw new InvalidEventError(`invalid ${envelope.data.type}: ${z.prettifyError(data.error)}`);
  return { ...envelope.data, data: data.data } as Event;
}

export interface EventOrigin {
  bookingId: string | null;
  correlationId: string;
  causationId: string | null;
}

/** Builds a valid event; the data is checked here so a wrong event never reaches the outbox. */
export function createEvent<T extends EventType>(
  type: T,
  data: EventData<T>,
  origin: EventOrigin,
  occurredAt: Date = new Date(),
): Event<T> {
  const entry = catalogue[type];
  const event = {
    eventId: randomUUID(),
    type,
    version: entry.version,
    ...origin,
    occurredAt: occurredAt.toISOString(),
    data: entry.data.parse(data),
  };
  return event as Event<T>;
}

/** The next event of the same saga: same booking and correlation, caused by `cause`. */
export function followUp<T extends EventType>(
  cause: Event,
  type: T,
  data: EventData<T>,
  at?: Date,
): Event<T> {
  return createEvent(
    type,
    data,
    { bookingId: cause.bookingId, correlationId: cause.correlationId, causationId: cause.eventId },
    at,
  );
}

export function streamOf(type: EventType): string {
  return catalogue[type].stream;
}
