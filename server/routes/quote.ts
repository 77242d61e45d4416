import { Router } from 'express';
import type { Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import { quoteBooking } from '../../lib/pricing/quote-service.js';
import { requireUser } from '../auth/guards.js';
import { parse } from '../middleware/validate.js';
import { bookingInput } from './bookings.js';

/** POST /api/quote: a booking's body priced now, by the pricing participant's rules; writes nothing. */
export function quoteApi(deps: { db: Db; clock: Clock }): Router {
  const router = Router();
  const input = bookingInput(deps.clock);
  router.post('/quote', requireUser, async (req, res) => {
    const body = parse(input, req.body);
    res.json({ quote: await quoteBooking(deps.db, deps.clock, body) });
  });
  return router;
}
