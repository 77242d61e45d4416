import { Router } from 'express';
import { z } from 'zod';
import { getBookingViews } from '../../lib/booking/booking-service.js';
import { istToday, isValidIsoDate, type Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import { getSchedule, updateSchedule } from '../../lib/scheduling/schedule-service.js';
import { scheduleChangeSchema } from '../../lib/scheduling/slot-rules.js';
import { currentUser, requireAdmin } from '../auth/guards.js';
import { parse } from '../middleware/validate.js';

export const appointmentsQuery = z.object({
  date: z
    .string()
    .refine(isValidIsoDate, 'a real date as YYYY-MM-DD')
    .refine((date) => date >= '2000-01-01' && date <= '2999-12-31', 'a date between 2000 and 2999'),
});

/** The clinic's schedule and the day's appointments, for admins. */
export function scheduleAdminApi(deps: { db: Db; clock: Clock; published: () => void }): Router {
  const router = Router();

  router.get('/admin/schedule', requireAdmin, async (_req, res) => {
    res.json(await getSchedule(deps.db));
  });

  router.put('/admin/schedule', requireAdmin, async (req, res) => {
    const change = parse(scheduleChangeSchema, req.body);
    const { schedule, notices } = await updateSchedule(deps.db, deps.clock, currentUser(req).email, change);
    deps.published();
    res.json({ ...schedule, notices });
  });

  router.get('/admin/appointments', requireAdmin, async (req, res) => {
    const { date } = parse(appointmentsQuery, { date: istToday(deps.clock), ...req.query });
    res.json({ date, appointments: await getBookingViews(deps.db, { appointmentDate: date }) });
  });

  return router;
}
