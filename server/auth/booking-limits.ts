import type { Request, RequestHandler } from 'express';
import { countPendingBookings, hasBookingWithKey } from '../../lib/booking/patient-bookings.js';
import type { Db } from '../../lib/db/database.js';
import { TooManyRequestsError } from '../../lib/errors.js';
import type { Limiter } from './rate-limit.js';

/**
 * Before a patient's booking is made: at most `limiter`'s bookings per window, and at most
 * `pendingLimit` still being processed (each booking sends an email to an address the patient
 * chooses). A repeat of an Idempotency-Key that already booked is not a new booking: not counted.
 * Anonymous visitors, admins and invalid bodies pass through to the route, which refuses them.
 */
export function bookingLimits(options: {
  db: Db;
  /** Whether the request would make a booking (only those are counted), and its Idempotency-Key. */
  read: (req: Request) => { valid: boolean; idempotencyKey?: string | undefined };
  limiter: Limiter;
  pendingLimit: number;
  onThrottled: (req: Request) => Promise<void>;
}): RequestHandler {
  return async (req, _res, next) => {
    const user = req.user;
    const { valid, idempotencyKey: key } = options.read(req);
    if (!user || user.role !== 'user' || !valid) return next();
    if (key && key.length <= 200 && (await hasBookingWithKey(options.db, user.id, key))) return next();
    try {
      await options.limiter.consume(user.id);
      if ((await countPendingBookings(options.db, user.id)) >= options.pendingLimit) {
        throw new TooManyRequestsError(
          `You have ${options.pendingLimit} bookings still being processed. Please wait for them to finish.`,
          10,
        );
      }
    } catch (error) {
      if (error instanceof TooManyRequestsError) await options.onThrottled(req);
      throw error;
    }
    next();
  };
}
