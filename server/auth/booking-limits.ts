import type { RequestHandler } from 'express';
import type { z } from 'zod';
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
  /** The route's own schema: only a booking that would be made is counted. */
  input: z.ZodType;
  limiter: Limiter;
  pendingLimit: number;
  onThrottled: (req: Parameters<RequestHandler>[0]) => Promise<void>;
}): RequestHandler {
  return async (req, _res, next) => {
    const user = req.user;
    if (!user || user.role !== 'user' || !options.input.safeParse(req.body).success) return next();
    const key = req.get('idempotency-key');
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
