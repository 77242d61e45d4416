import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { hasBookingWithKey } from '../../lib/booking/patient-bookings.js';
import type { Db } from '../../lib/db/database.js';
import { TooManyRequestsError } from '../../lib/errors.js';
import type { Limiter } from './rate-limit.js';

/**
 * Before a patient's booking is made: at most `limiter`'s bookings per window (each booking sends an
 * email to an address the patient chooses). A repeat of an Idempotency-Key that already booked is not
 * a new booking: not counted. Anonymous visitors, admins and invalid bodies pass through to the route,
 * which refuses them. The cap on bookings still being processed is requestBooking's (pendingLimit),
 * checked in the statement that writes the booking.
 */
export function bookingLimits(options: {
  db: Db;
  /** Whether the request would make a booking (only those are counted), and its Idempotency-Key. */
  read: (req: Request) => { valid: boolean; idempotencyKey?: string | undefined };
  limiter: Limiter;
}): RequestHandler {
  return async (req, _res, next) => {
    const user = req.user;
    const { valid, idempotencyKey: key } = options.read(req);
    if (!user || user.role !== 'user' || !valid) return next();
    if (key && key.length <= 200 && (await hasBookingWithKey(options.db, user.id, key))) return next();
    await options.limiter.consume(user.id);
    next();
  };
}

/**
 * A booking refused with 429 (the window's limit here, or requestBooking's cap on pending bookings)
 * goes to the audit trail: an error handler after the routes, for the POSTs that make a booking.
 */
export function auditBookingThrottles(
  paths: readonly string[],
  onThrottled: (req: Request) => Promise<void>,
): ErrorRequestHandler {
  return async (error, req, _res, next) => {
    if (error instanceof TooManyRequestsError && req.method === 'POST' && paths.includes(req.path))
      await onThrottled(req);
    next(error);
  };
}
