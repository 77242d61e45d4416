import { Router } from 'express';
import { z } from 'zod';
import { getBookingView, getBookingViews } from '../../../lib/booking/booking-service.js';
import { changeability } from '../../../lib/booking/change-rules.js';
import type { Clock } from '../../../lib/clock.js';
import type { Db } from '../../../lib/db/database.js';
import { NotFoundError } from '../../../lib/errors.js';
import { requireLoginPage } from '../../auth/guards.js';
import { cancellableUntil } from '../cancellation-pages.js';

const bookingId = z.uuid();

/** The status page of one booking and the patient's history. */
export function bookingPages(deps: { db: Db; clock: Clock; cancellationCutoffMinutes: number }): Router {
  const router = Router();

  router.get('/bookings', requireLoginPage, async (req, res) => {
    const bookings = await getBookingViews(deps.db, { userId: req.user!.id });
    res.set('Cache-Control', 'no-store');
    res.render('pages/history', { title: 'My bookings', scripts: ['/js/history.js'], bookings });
  });

  router.get('/bookings/:id', requireLoginPage, async (req, res) => {
    const id = bookingId.safeParse(req.params.id);
    const booking = id.success ? await getBookingView(deps.db, id.data) : null;
    // Another patient's booking is indistinguishable from a missing one.
    if (!booking || (booking.userId !== req.user!.id && req.user!.role !== 'admin'))
      throw new NotFoundError('No such booking.');
    const until = cancellableUntil(booking, deps.cancellationCutoffMinutes);
    const cancellable =
      changeability({
        status: booking.status,
        change: booking.change,
        now: deps.clock.now(),
        deadline: until,
      }) === 'changeable';
    res.set('Cache-Control', 'no-store');
    res.render('pages/booking-status', {
      cancellable,
      cancellableUntil: until,
      cutoffMinutes: deps.cancellationCutoffMinutes,
      title: `Booking ${booking.reference}`,
      scripts: ['/js/booking-status.js'],
      // Without JavaScript a pending booking's page reloads itself.
      refreshSeconds: booking.status === 'PENDING' || booking.change ? 5 : null,
      booking,
    });
  });

  return router;
}
