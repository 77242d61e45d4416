import { WEB_PRODUCER } from '../../lib/bus/outbox.js';
import type { Event } from '../../lib/events/catalogue.js';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { getBookingView, getBookingViews, requestBooking } from '../../lib/booking/booking-service.js';
import { requestCancellation } from '../../lib/booking/cancellation-service.js';
import { requestReschedule } from '../../lib/booking/reschedule-service.js';
import { istDate, isValidIsoDate, type Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import { NotFoundError, ValidationError } from '../../lib/errors.js';
import { extendContext } from '../../lib/context.js';
import { currentUser, requirePatient, requireUser } from '../auth/guards.js';
import { parse, typedText } from '../middleware/validate.js';

export interface BookingDeps {
  db: Db;
  clock: Clock;
  deadlineMs: number;
  /** At most this many of a patient's bookings still being processed (BOOKING_PENDING_LIMIT). */
  pendingLimit: number;
  cancellationCutoffMinutes: number;
  redriveAfterMs: number;
  /** Publishes what a request committed to the outbox without waiting for the next poll. */
  published: () => void;
  /** Publishes a booking request's events itself, right after its commit. */
  publish: (events: readonly Event[]) => void;
}

/** Phone digits as an HTML `pattern` (the wizard's field) and the schema check below. */
export const PHONE_PATTERN = String.raw`\+?\d[\d\s\-]{8,16}\d`;
export const EARLIEST_DATE_OF_BIRTH = '1900-01-01';

export function bookingInput(clock: Clock) {
  return z.object({
    patient: z.object({
      name: typedText(100, "enter the patient's full name"),
      gender: z.enum(['female', 'male', 'other'], 'choose Female, Male or Other'),
      dateOfBirth: z
        .string()
        .refine(isValidIsoDate, 'enter a real date (YYYY-MM-DD)')
        .refine((date) => date <= istDate(clock.now()), 'cannot be in the future')
        .refine((date) => date >= EARLIEST_DATE_OF_BIRTH, 'must be in 1900 or later'),
      phone: z
        .string()
        .trim()
        .regex(new RegExp(`^${PHONE_PATTERN}$`), 'enter a phone number of 10 to 15 digits'),
      email: z.email('enter an email address like name@example.com').max(254),
    }),
    serviceIds: z.array(z.uuid('a service id')).min(1, 'choose at least one service').max(20),
    slotStart: z.iso
      .datetime({ offset: true, error: 'choose a time from the list of slots' })
      .nullable()
      .optional(),
  });
}

const idempotencyKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,200}$/, 'printable, at most 200 characters')
  .optional();
const bookingId = z.uuid();

/** A cancellation's reason: optional for the patient, required when an admin cancels for them. */
export const cancellationInput = z.object({
  reason: z
    .string()
    .trim()
    .max(500, 'at most 500 characters')
    .refine((text) => !text.includes('\0'), 'no NUL characters')
    .optional(),
});

export function cancellationReason(input: z.infer<typeof cancellationInput>, role: string): string | null {
  const reason = input.reason || null;
  if (role === 'admin' && !reason) {
    throw new ValidationError('Please give the reason for cancelling on the patient’s behalf.', [
      { path: 'reason', message: 'a reason is required when an admin cancels' },
    ]);
  }
  return reason;
}

/** A reschedule: the new slot (as a booking names one) and a reason, required of an admin. */
export const rescheduleInput = z.object({
  slotStart: z.iso.datetime({ offset: true, error: 'choose a time from the list of slots' }),
  reason: cancellationInput.shape.reason,
});

export function rescheduleReason(input: { reason?: string | undefined }, role: string): string | null {
  const reason = input.reason || null;
  if (role === 'admin' && !reason) {
    throw new ValidationError('Please give the reason for moving the visit on the patient’s behalf.', [
      { path: 'reason', message: 'a reason is required when an admin reschedules' },
    ]);
  }
  return reason;
}

export function bookingsApi(deps: BookingDeps): Router {
  const router = Router();
  const input = bookingInput(deps.clock);

  router.post('/bookings', requirePatient, async (req, res) => {
    const body = parse(input, req.body);
    const key = parse(idempotencyKey, req.get('idempotency-key'), 'The Idempotency-Key header is invalid.');
    const { booking, events } = await requestBooking(
      deps.db,
      {
        userId: currentUser(req).id,
        patient: body.patient,
        serviceIds: body.serviceIds,
        slotStart: body.slotStart,
        idempotencyKey: key,
      },
      {
        clock: deps.clock,
        deadlineMs: deps.deadlineMs,
        redriveAfterMs: deps.redriveAfterMs,
        pendingLimit: deps.pendingLimit,
        publisher: WEB_PRODUCER,
      },
    );
    extendContext({ correlationId: booking.correlationId, bookingId: booking.id });
    deps.publish(events);
    res.status(202).location(`/api/bookings/${booking.id}/status`).json({ booking });
  });

  router.post('/bookings/:id/cancel', requireUser, async (req, res) => {
    const id = bookingId.safeParse(req.params.id);
    if (!id.success) throw new NotFoundError('No such booking.');
    const user = currentUser(req);
    const reason = cancellationReason(parse(cancellationInput, req.body ?? {}), user.role);
    const key = parse(idempotencyKey, req.get('idempotency-key'), 'The Idempotency-Key header is invalid.');
    const { booking, created } = await requestCancellation(
      deps.db,
      { bookingId: id.data, by: user, reason, idempotencyKey: key },
      {
        clock: deps.clock,
        cutoffMinutes: deps.cancellationCutoffMinutes,
        redriveAfterMs: deps.redriveAfterMs,
      },
    );
    extendContext({ correlationId: booking.correlationId, bookingId: booking.id });
    if (created) deps.published();
    res.status(202).location(`/api/bookings/${booking.id}/status`).json({ booking });
  });

  router.post('/bookings/:id/reschedule', requireUser, async (req, res) => {
    const id = bookingId.safeParse(req.params.id);
    if (!id.success) throw new NotFoundError('No such booking.');
    const user = currentUser(req);
    const body = parse(rescheduleInput, req.body ?? {});
    const reason = rescheduleReason(body, user.role);
    const key = parse(idempotencyKey, req.get('idempotency-key'), 'The Idempotency-Key header is invalid.');
    const { booking, created } = await requestReschedule(
      deps.db,
      { bookingId: id.data, by: user, slotStart: body.slotStart, reason, idempotencyKey: key },
      {
        clock: deps.clock,
        cutoffMinutes: deps.cancellationCutoffMinutes,
        redriveAfterMs: deps.redriveAfterMs,
      },
    );
    extendContext({ correlationId: booking.correlationId, bookingId: booking.id });
    if (created) deps.published();
    res.status(202).location(`/api/bookings/${booking.id}/status`).json({ booking });
  });

  router.get('/bookings', requireUser, async (req, res) => {
    res.json({ bookings: await getBookingViews(deps.db, { userId: currentUser(req).id }) });
  });

  const showBooking = async (req: Request, res: Response) => {
    const user = currentUser(req);
    const id = bookingId.safeParse(req.params.id);
    const booking = id.success ? await getBookingView(deps.db, id.data) : null;
    // Another patient's booking is indistinguishable from a missing one.
    if (!booking || (booking.userId !== user.id && user.role !== 'admin'))
      throw new NotFoundError('No such booking.');
    const { userId: _owner, ...view } = booking;
    res.json({ booking: view });
  };
  router.get('/bookings/:id', requireUser, showBooking);
  router.get('/bookings/:id/status', requireUser, showBooking);

  return router;
}
