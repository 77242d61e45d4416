import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { getBookingView, getBookingViews, requestBooking } from '../../lib/booking/booking-service.js';
import { istDate, isValidIsoDate, type Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import { NotFoundError } from '../../lib/errors.js';
import { extendContext } from '../../lib/context.js';
import { currentUser, requirePatient, requireUser } from '../auth/guards.js';
import { parse } from '../middleware/validate.js';

export interface BookingDeps {
  db: Db;
  clock: Clock;
  deadlineMs: number;
  /** Publishes what a request committed to the outbox without waiting for the next poll. */
  published: () => void;
}

export function bookingInput(clock: Clock) {
  return z.object({
    patient: z.object({
      name: z.string().trim().min(1, 'the patient name').max(100),
      gender: z.enum(['female', 'male', 'other'], 'female, male or other'),
      dateOfBirth: z
        .string()
        .refine(isValidIsoDate, 'a real date as YYYY-MM-DD')
        .refine((date) => date <= istDate(clock.now()), 'not in the future')
        .refine((date) => date >= '1900-01-01', 'after 1900'),
      phone: z
        .string()
        .trim()
        .regex(/^\+?\d[\d\s-]{8,16}\d$/, 'a phone number of 10 to 15 digits'),
      email: z.email('a valid email address').max(254),
    }),
    serviceIds: z.array(z.uuid('a service id')).min(1, 'at least one service').max(20),
    slotStart: z.iso
      .datetime({ offset: true, error: 'a slot start as an ISO time with its offset' })
      .nullable()
      .optional(),
  });
}

const idempotencyKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,200}$/, 'printable, at most 200 characters')
  .optional();
const bookingId = z.uuid();

export function bookingsApi(deps: BookingDeps): Router {
  const router = Router();
  const input = bookingInput(deps.clock);

  router.post('/bookings', requirePatient, async (req, res) => {
    const body = parse(input, req.body);
    const key = parse(idempotencyKey, req.get('idempotency-key'), 'The Idempotency-Key header is invalid.');
    const { booking, created } = await requestBooking(
      deps.db,
      {
        userId: currentUser(req).id,
        patient: body.patient,
        serviceIds: body.serviceIds,
        slotStart: body.slotStart,
        idempotencyKey: key,
      },
      { clock: deps.clock, deadlineMs: deps.deadlineMs },
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
