import { Router } from 'express';
import { z } from 'zod';
import { countEventsByType, findAuditEntries } from '../../lib/audit/audit-queries.js';
import { getBookingView, getBookingViews } from '../../lib/booking/booking-service.js';
import { listDeadLetters, replayDeadLetter } from '../../lib/bus/dead-letters.js';
import { createService, listServices, updateService } from '../../lib/catalogue/catalogue-service.js';
import { SERVICE_GENDERS } from '../../lib/catalogue/service-rules.js';
import type { Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import { NotFoundError } from '../../lib/errors.js';
import { quotaToday } from '../../lib/quota/quota-handlers.js';
import { fillRateToday } from '../../lib/scheduling/slots-service.js';
import { getConfig, updateConfig, type PaymentDefaults } from '../../lib/settings/settings-service.js';
import { currentUser, requireAdmin } from '../auth/guards.js';
import { parse } from '../middleware/validate.js';

export interface AdminDeps {
  db: Db;
  clock: Clock;
  paymentDefaults: PaymentDefaults;
  published: () => void;
}

const percent = z
  .number('a number')
  .min(0)
  .max(100)
  .refine((value) => Math.abs(value * 100 - Math.round(value * 100)) < 1e-6, 'at most two decimals');

const configChange = z
  .object({
    discountPercent: percent,
    dailyDiscountQuota: z.number().int('a whole number').min(0).max(1_000_000),
    paymentSimulationMode: z.enum(['success', 'fail', 'random']),
    paymentFailureRate: z.number().min(0).max(1),
  })
  .partial()
  .refine((change) => Object.keys(change).length > 0, 'nothing to change');

const serviceFields = z.object({
  name: z.string().trim().min(2).max(120),
  description: z.string().trim().max(1000).default(''),
  pricePaise: z.number().int('whole paise').min(0).max(100_000_000),
  gender: z.enum(SERVICE_GENDERS),
  active: z.boolean().default(true),
});
const serviceChange = serviceFields
  .partial()
  .extend({ description: z.string().trim().max(1000).optional(), active: z.boolean().optional() })
  .refine((change) => Object.keys(change).length > 0, 'nothing to change');

const statuses = z.enum(['PENDING', 'CONFIRMED', 'REJECTED', 'FAILED']);
const bookingFilter = z.object({ status: statuses.optional(), q: z.string().trim().max(100).optional() });
const auditFilter = z.object({
  type: z.string().max(100).optional(),
  actor: z.string().max(254).optional(),
  correlationId: z.uuid().optional(),
  bookingId: z.uuid().optional(),
  from: z.coerce.date().optional(),
  to: z.coerce.date().optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const id = z.uuid();

export function adminApi(deps: AdminDeps): Router {
  const router = Router();
  router.use('/admin', requireAdmin);

  router.get('/admin/config', async (_req, res) => {
    res.json(await getConfig(deps.db, deps.paymentDefaults));
  });

  router.put('/admin/config', async (req, res) => {
    const change = parse(configChange, req.body);
    const config = await updateConfig(deps.db, currentUser(req).email, change, deps.paymentDefaults);
    deps.published();
    res.json(config);
  });

  router.get('/admin/stats', async (_req, res) => {
    const [byStatus, eventsByType, quota, appointments] = await Promise.all([
      deps.db
        .selectFrom('booking.bookings')
        .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
        .groupBy('status')
        .execute(),
      countEventsByType(deps.db),
      quotaToday(deps.db, deps.clock),
      fillRateToday(deps.db, deps.clock),
    ]);
    const bookingsByStatus: Record<string, number> = { PENDING: 0, CONFIRMED: 0, REJECTED: 0, FAILED: 0 };
    for (const row of byStatus) bookingsByStatus[row.status] = Number(row.count);
    res.json({ bookingsByStatus, eventsByType, quota, appointments });
  });

  router.get('/admin/services', async (_req, res) => {
    res.json({ services: await listServices(deps.db, { includeInactive: true }) });
  });

  router.post('/admin/services', async (req, res) => {
    const input = parse(serviceFields, req.body);
    res.status(201).json({ service: await createService(deps.db, currentUser(req).email, input) });
  });

  router.patch('/admin/services/:id', async (req, res) => {
    const serviceId = id.safeParse(req.params.id);
    if (!serviceId.success) throw new NotFoundError('No such service.');
    const change = parse(serviceChange, req.body);
    res.json({ service: await updateService(deps.db, currentUser(req).email, serviceId.data, change) });
  });

  router.get('/admin/bookings', async (req, res) => {
    const filter = parse(bookingFilter, req.query);
    res.json({ bookings: await getBookingViews(deps.db, filter) });
  });

  router.get('/admin/bookings/:id', async (req, res) => {
    const bookingId = id.safeParse(req.params.id);
    const booking = bookingId.success ? await getBookingView(deps.db, bookingId.data) : null;
    if (!booking) throw new NotFoundError('No such booking.');
    const trace = await findAuditEntries(
      deps.db,
      { correlationId: booking.correlationId, limit: 1000 },
      'asc',
    );
    res.json({ booking: { ...booking, trace: withStepTimes(trace) } });
  });

  router.get('/admin/audit-logs', async (req, res) => {
    res.json({ entries: await findAuditEntries(deps.db, parse(auditFilter, req.query)) });
  });

  router.get('/admin/dead-letters', async (_req, res) => {
    res.json({ deadLetters: await listDeadLetters(deps.db, { includeReplayed: true }) });
  });

  router.post('/admin/dead-letters/:id/replay', async (req, res) => {
    const letterId = z.coerce.number().int().positive().safeParse(req.params.id);
    if (!letterId.success) throw new NotFoundError('No such dead letter.');
    await replayDeadLetter(deps.db, letterId.data);
    deps.published();
    res.status(202).json({ replayed: letterId.data });
  });

  return router;
}

/** Each step with the time since the previous one, for troubleshooting a slow saga. */
function withStepTimes<T extends { at: string }>(entries: T[]): (T & { sincePreviousMs: number | null })[] {
  return entries.map((entry, index) => {
    const previous = entries[index - 1];
    return { ...entry, sincePreviousMs: previous ? Date.parse(entry.at) - Date.parse(previous.at) : null };
  });
}
