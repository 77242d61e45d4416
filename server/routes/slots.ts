import { Router } from 'express';
import { z } from 'zod';
import { addDays, istToday, isValidIsoDate, type Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import { listSlots } from '../../lib/scheduling/slots-service.js';
import { BOOKING_HORIZON_DAYS, MAX_LISTED_DAYS } from '../../lib/scheduling/slot-rules.js';
import { parse } from '../middleware/validate.js';

export function slotsQuery(clock: Clock) {
  return z.object({
    from: z
      .string()
      .refine(isValidIsoDate, 'a real date as YYYY-MM-DD')
      .refine((date) => date >= '2000-01-01', 'from 2000 on')
      .refine(
        (date) => date <= addDays(istToday(clock), BOOKING_HORIZON_DAYS),
        `within ${BOOKING_HORIZON_DAYS} days from today`,
      )
      .optional(),
    days: z.coerce
      .number('a number of days')
      .int('a whole number of days')
      .min(1)
      .max(MAX_LISTED_DAYS)
      .default(14),
  });
}

/** The free and full slots, public like the catalogue: anyone may see when the clinic has room. */
export function slotsApi({ db, clock }: { db: Db; clock: Clock }): Router {
  const router = Router();
  const query = slotsQuery(clock);
  router.get('/slots', async (req, res) => {
    const { from, days } = parse(query, req.query);
    res.json({ slots: await listSlots(db, clock, from ?? istToday(clock), days) });
  });
  return router;
}
