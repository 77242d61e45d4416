import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { getBookingView } from '../../lib/booking/booking-service.js';
import { requestReschedule } from '../../lib/booking/reschedule-service.js';
import { changeability } from '../../lib/booking/change-rules.js';
import { addDays, istToday, isValidIsoDate, type Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import { NotFoundError } from '../../lib/errors.js';
import { listSlots } from '../../lib/scheduling/slots-service.js';
import { currentUser, requireLoginPage } from '../auth/guards.js';
import { parse } from '../middleware/validate.js';
import { formBody, formErrors, shownText } from './pages/forms.js';
import { rescheduleInput, rescheduleReason } from './bookings.js';
import { cancellableUntil } from './cancellation-pages.js';

export interface ReschedulePageDeps {
  db: Db;
  clock: Clock;
  cancellationCutoffMinutes: number;
  redriveAfterMs: number;
  published: () => void;
}

const bookingId = z.uuid();
/** The days a new time is chosen from, today (IST) included. */
const PICKER_DAYS = 14;
const FIELDS = {
  slotStart: { id: 'slot-picker', label: 'New time' },
  reason: { id: 'reschedule-reason', label: 'Reason' },
};
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "Wed 2 Dec" for a 'YYYY-MM-DD' date. */
function dayLabel(isoDate: string): string {
  const [year, month, day] = isoDate.split('-').map(Number) as [number, number, number];
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  return `${WEEKDAYS[weekday]} ${day} ${MONTHS[month - 1]}`;
}

/**
 * Moving a booking from the site: a page with the current time and a picker of free slots (a day at
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

  /** The days to choose from and the shown day's times (the current one cannot be chosen). */
  const picker = async (page: Awaited<ReturnType<typeof load>>, wanted: unknown, chosen: string) => {
    const today = istToday(deps.clock);
    const days = Array.from({ length: PICKER_DAYS }, (_, i) => addDays(today, i));
    const chosenDay = /^\d{4}-\d{2}-\d{2}/.exec(chosen)?.[0];
    const day =
      typeof wanted === 'string' && isValidIsoDate(wanted) && days.includes(wanted)
        ? wanted
        : chosenDay && days.includes(chosenDay)
          ? chosenDay
          : (days[0] as string);
    const current = page.booking.appointment?.start ?? null;
    const slots = (await listSlots(deps.db, deps.clock, day, 1)).map((slot) => ({
      start: slot.start,
      time: slot.start.slice(11, 16),
      state: slot.start === current ? 'current' : slot.available > 0 ? 'free' : 'full',
    }));
    return {
      days: days.map((date) => ({ date, label: dayLabel(date) })),
      day,
      dayLabel: dayLabel(day),
      slots,
      chosen,
    };
  };

  const show = async (
    req: Request,
    res: Response,
    page: Awaited<ReturnType<typeof load>>,
    extra: { errors?: unknown[]; reason?: string; slotStart?: string; day?: unknown } = {},
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
          page.verdict === 'changeable'
            ? await picker(page, extra.day ?? req.query.day, extra.slotStart ?? '')
            : null,
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
          day: body.day,
        },
        status,
      );
    }
  });

  return router;
}
