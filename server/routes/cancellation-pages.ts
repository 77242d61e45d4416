import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { getBookingView, type BookingView } from '../../lib/booking/booking-service.js';
import { requestCancellation } from '../../lib/booking/cancellation-service.js';
import { changeability, changeDeadline } from '../../lib/booking/change-rules.js';
import type { Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import { NotFoundError } from '../../lib/errors.js';
import { currentUser, requireLoginPage } from '../auth/guards.js';
import { parse } from '../middleware/validate.js';
import { formErrors } from './pages/forms.js';
import { cancellationInput, cancellationReason } from './bookings.js';

export interface CancellationPageDeps {
  db: Db;
  clock: Clock;
  cancellationCutoffMinutes: number;
  redriveAfterMs: number;
  published: () => void;
}

const bookingId = z.uuid();
const FIELDS = { reason: { id: 'cancel-reason', label: 'Reason' } };

/** When a booking can still be cancelled, for its status page and the cancel page. */
export function cancellableUntil(booking: BookingView, cutoffMinutes: number): Date {
  return changeDeadline({
    appointmentStart: booking.appointment ? new Date(booking.appointment.start) : null,
    bookedAt: new Date(booking.createdAt),
    cutoffMinutes,
  });
}

/**
 * Cancelling from the site: a confirmation page (what is refunded, an optional reason, required of an
 * admin), then the same request the API makes. The form is checked by the API's schema.
 */
export function cancellationPages(deps: CancellationPageDeps): Router {
  const router = Router();

  const load = async (req: Request) => {
    const user = currentUser(req);
    const id = bookingId.safeParse(req.params.id);
    const booking = id.success ? await getBookingView(deps.db, id.data) : null;
    if (!booking || (booking.userId !== user.id && user.role !== 'admin')) {
      throw new NotFoundError('No such booking.');
    }
    const deadline = cancellableUntil(booking, deps.cancellationCutoffMinutes);
    const verdict = changeability({
      status: booking.status,
      change: booking.change,
      now: deps.clock.now(),
      deadline,
    });
    return { booking, deadline, verdict };
  };

  const show = (
    res: Response,
    page: Awaited<ReturnType<typeof load>>,
    extra: { errors?: unknown[]; reason?: string } = {},
    status = 200,
  ) => {
    res
      .status(status)
      .set('Cache-Control', 'no-store')
      .render('pages/cancel-booking', {
        title: `Cancel booking ${page.booking.reference}`,
        booking: page.booking,
        deadline: page.deadline,
        verdict: page.verdict,
        errors: extra.errors ?? [],
        reason: extra.reason ?? '',
        field: FIELDS.reason,
      });
  };

  router.get('/bookings/:id/cancel', requireLoginPage, async (req, res) => {
    const page = await load(req);
    show(res, page, {}, page.verdict === 'changeable' ? 200 : 409);
  });

  router.post('/bookings/:id/cancel', requireLoginPage, async (req, res) => {
    const page = await load(req);
    const body = req.body as { reason?: unknown };
    try {
      const user = currentUser(req);
      const reason = cancellationReason(parse(cancellationInput, { reason: body.reason }), user.role);
      const { created } = await requestCancellation(
        deps.db,
        { bookingId: page.booking.id, by: user, reason },
        {
          clock: deps.clock,
          cutoffMinutes: deps.cancellationCutoffMinutes,
          redriveAfterMs: deps.redriveAfterMs,
        },
      );
      if (created) deps.published();
      res.redirect(303, `/bookings/${page.booking.id}`);
    } catch (error) {
      const { status, errors } = formErrors(res, error, FIELDS);
      const fresh = await load(req);
      show(res, fresh, { errors, reason: typeof body.reason === 'string' ? body.reason : '' }, status);
    }
  });

  return router;
}
