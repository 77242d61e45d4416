import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { getBookingView } from '../../lib/booking/booking-service.js';
import { requestReschedule } from '../../lib/booking/reschedule-service.js';
import { changeability } from '../../lib/booking/change-rules.js';
import type { Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import { NotFoundError } from '../../lib/errors.js';
import { currentUser, requireLoginPage } from '../auth/guards.js';
import { parse } from '../middleware/validate.js';
import { formBody, formErrors, shownText } from './pages/forms.js';
import { rescheduleInput, rescheduleReason } from './bookings.js';
import { cancellableUntil } from './cancellation-pages.js';
import { slotPicker } from '../views/slot-picker.js';

export interface ReschedulePageDeps {
  db: Db;
  clock: Clock;
  cancellationCutoffMinutes: number;
  redriveAfterMs: number;
  published: () => void;
}

const bookingId = z.uuid();
const FIELDS = {
  slotStart: { id: 'slot-picker', label: 'New time' },
  reason: { id: 'reschedule-reason', label: 'Reason' },
};
/**
 * Moving a booking from the site: a page with the current time and the shared slot picker (a day at
 * a time, chosen with links, so it works without a script), then the same request the API makes.
 * An admin moves a patient's booking here too, with a reason.
 */
export function reschedulePages(deps: ReschedulePageDeps): Router {
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

  /** The shared slot picker, the booking's own time shown but not a choice. */
  const picker = async (page: Awaited<ReturnType<typeof load>>, day: unknown, chosen: string) => {
    const locals = await slotPicker(deps.db, deps.clock, { chosenStart: chosen, day });
    const current = page.booking.appointment?.start ?? null;
    const days = locals.days.map((pickerDay) => {
      const slots = pickerDay.slots.map((slot) =>
        slot.start === current ? { ...slot, state: 'current' as const } : slot,
      );
      return { ...pickerDay, slots, free: slots.filter((slot) => slot.state === 'free').length };
    });
    return { ...locals, days };
  };

  const show = async (
    req: Request,
    res: Response,
    page: Awaited<ReturnType<typeof load>>,
    extra: { errors?: unknown[]; reason?: string; slotStart?: string } = {},
    status = 200,
  ) => {
    res
      .status(status)
      .set('Cache-Control', 'no-store')
      .render('pages/reschedule-booking', {
        title: `Reschedule booking ${page.booking.reference}`,
        booking: page.booking,
        deadline: page.deadline,
        verdict: page.verdict,
        picker:
          page.verdict === 'changeable' ? await picker(page, req.query.day, extra.slotStart ?? '') : null,
        dayHref: `/bookings/${page.booking.id}/reschedule?day=`,
        scripts: ['/js/slot-picker.js'],
        errors: extra.errors ?? [],
        reason: extra.reason ?? '',
        fields: FIELDS,
      });
  };

  router.get('/bookings/:id/reschedule', requireLoginPage, async (req, res) => {
    const page = await load(req);
    await show(req, res, page, {}, page.verdict === 'changeable' ? 200 : 409);
  });

  router.post('/bookings/:id/reschedule', requireLoginPage, async (req, res) => {
    const page = await load(req);
    const body = formBody(req);
    try {
      const user = currentUser(req);
      const input = parse(rescheduleInput, {
        slotStart: body.slotStart,
        reason: body.reason === '' ? undefined : body.reason,
      });
      const reason = rescheduleReason(input, user.role);
      const { created } = await requestReschedule(
        deps.db,
        { bookingId: page.booking.id, by: user, slotStart: input.slotStart, reason },
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
      await show(
        req,
        res,
        fresh,
        {
          errors,
          reason: shownText(body.reason),
          slotStart: shownText(body.slotStart),
        },
        status,
      );
    }
  });

  return router;
}
