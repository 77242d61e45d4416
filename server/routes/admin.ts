import { Router } from 'express';
import type { Redis } from 'ioredis';
import { searchAuditEntries } from '../../lib/admin/audit-search.js';
import { bookingTrace } from '../../lib/admin/booking-trace.js';
import { searchBookings } from '../../lib/admin/booking-search.js';
import { appliedConfigVersions } from '../../lib/admin/config-status.js';
import { dashboardStats } from '../../lib/admin/dashboard-stats.js';
import { replayGroup, replayOne, replayOutcomes } from '../../lib/admin/dead-letter-replay.js';
import { getBookingView } from '../../lib/booking/booking-service.js';
import { listDeadLetters } from '../../lib/bus/dead-letters.js';
import { createService, listServices, updateService } from '../../lib/catalogue/catalogue-service.js';
import type { Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import { NotFoundError } from '../../lib/errors.js';
import { getConfig, updateConfig, type PaymentDefaults } from '../../lib/settings/settings-service.js';
import { currentUser, requireAdmin } from '../auth/guards.js';
import { parse } from '../middleware/validate.js';
import {
  auditFilter,
  bookingFilter,
  configChange,
  deadLetterFilter,
  deadLetterId,
  replayGroupBody,
  serviceChange,
  serviceFields,
  uuid,
} from './admin-schemas.js';

export interface AdminDeps {
  db: Db;
  redis: Redis;
  prefix: string;
  clock: Clock;
  paymentDefaults: PaymentDefaults;
  published: () => void;
}

/** The config and the version each participant applies (they agree once the change travelled). */
export async function configWithVersions(deps: Pick<AdminDeps, 'db' | 'paymentDefaults'>) {
  const [config, applied] = await Promise.all([
    getConfig(deps.db, deps.paymentDefaults),
    appliedConfigVersions(deps.db),
  ]);
  return { ...config, applied };
}

export function adminApi(deps: AdminDeps): Router {
  const router = Router();
  router.use('/admin', requireAdmin);

  router.get('/admin/config', async (_req, res) => {
    res.json(await configWithVersions(deps));
  });

  router.put('/admin/config', async (req, res) => {
    const change = parse(configChange, req.body);
    await updateConfig(deps.db, currentUser(req).email, change, deps.paymentDefaults);
    deps.published();
    res.json(await configWithVersions(deps));
  });

  router.get('/admin/stats', async (_req, res) => {
    res.json(await dashboardStats(deps));
  });

  router.get('/admin/services', async (_req, res) => {
    res.json({ services: await listServices(deps.db, { includeInactive: true }) });
  });

  router.post('/admin/services', async (req, res) => {
    const input = parse(serviceFields, req.body);
    res.status(201).json({ service: await createService(deps.db, currentUser(req).email, input) });
  });

  router.patch('/admin/services/:id', async (req, res) => {
    const serviceId = uuid.safeParse(req.params.id);
    if (!serviceId.success) throw new NotFoundError('No such service.');
    const change = parse(serviceChange, req.body);
    res.json({ service: await updateService(deps.db, currentUser(req).email, serviceId.data, change) });
  });

  router.get('/admin/bookings', async (req, res) => {
    const { items, ...page } = await searchBookings(deps.db, parse(bookingFilter, req.query));
    res.json({ bookings: items, ...page });
  });

  router.get('/admin/bookings/:id', async (req, res) => {
    const bookingId = uuid.safeParse(req.params.id);
    const booking = bookingId.success ? await getBookingView(deps.db, bookingId.data) : null;
    if (!booking) throw new NotFoundError('No such booking.');
    res.json({ booking: { ...booking, trace: await bookingTrace(deps.db, booking.correlationId) } });
  });

  router.get('/admin/audit-logs', async (req, res) => {
    const filter = parse(auditFilter, req.query);
    // Without a cursor the documented shape stays: { entries } (now with the page's count and cursor).
    const { items, ...page } = await searchAuditEntries(deps.db, { ...filter, limit: filter.limit ?? 200 });
    res.json({ entries: items, ...page });
  });

  router.get('/admin/dead-letters', async (req, res) => {
    const filter = parse(deadLetterFilter, req.query);
    const letters = await listDeadLetters(deps.db, {
      includeReplayed: filter.state === 'all',
      onlyReplayed: filter.state === 'replayed',
      ...(filter.group ? { group: filter.group } : {}),
    });
    const outcomes = await replayOutcomes(deps.db, letters);
    res.json({
      deadLetters: letters.map((letter) => ({ ...letter, replayOutcome: outcomes.get(letter.id) ?? null })),
    });
  });

  router.post('/admin/dead-letters/replay', async (req, res) => {
    const { group } = parse(replayGroupBody, req.body);
    const result = await replayGroup(deps.db, group, currentUser(req).email);
    deps.published();
    res.status(202).json(result);
  });

  router.post('/admin/dead-letters/:id/replay', async (req, res) => {
    const letterId = deadLetterId.safeParse(req.params.id);
    if (!letterId.success) throw new NotFoundError('No such dead letter.');
    await replayOne(deps.db, letterId.data, currentUser(req).email);
    deps.published();
    res.status(202).json({ replayed: letterId.data });
  });

  return router;
}
