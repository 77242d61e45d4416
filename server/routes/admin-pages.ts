import { Router, type Request, type RequestHandler, type Response } from 'express';
import { auditTypes, searchAuditEntries } from '../../lib/admin/audit-search.js';
import { bookingTrace, type TraceStep } from '../../lib/admin/booking-trace.js';
import { COUNT_CAP, searchBookings } from '../../lib/admin/booking-search.js';
import { dashboardStats } from '../../lib/admin/dashboard-stats.js';
import { bookingOf, replayGroup, replayOne, replayOutcomes } from '../../lib/admin/dead-letter-replay.js';
import { getBookingView } from '../../lib/booking/booking-service.js';
import { listDeadLetters } from '../../lib/bus/dead-letters.js';
import { quotaToday } from '../../lib/quota/quota-handlers.js';
import { createService, listServices, updateService } from '../../lib/catalogue/catalogue-service.js';
import { ForbiddenError, NotFoundError } from '../../lib/errors.js';
import { updateConfig } from '../../lib/settings/settings-service.js';
import { currentUser } from '../auth/guards.js';
import { parse } from '../middleware/validate.js';
import { configWithVersions, type AdminDeps } from './admin.js';
import { configForm, filledIn, istDateTimeField, serviceForm } from './admin-forms.js';
import {
  auditFilter,
  BOOKING_STATUSES,
  bookingFilter,
  configChange,
  deadLetterId,
  replayGroupBody,
  serviceFields,
  uuid,
} from './admin-schemas.js';
import { formBody, formErrors, shownText, type FieldLabels } from './pages/forms.js';
import { schedulePageHandlers } from './admin-schedule-pages.js';

/** The admin pages in the header's navigation, in order. */
export const ADMIN_NAV = [
  { href: '/admin', label: 'Dashboard' },
  { href: '/admin/bookings', label: 'Bookings' },
  { href: '/admin/appointments', label: 'Appointments' },
  { href: '/admin/services', label: 'Services' },
  { href: '/admin/discounts', label: 'Discounts' },
  { href: '/admin/schedule', label: 'Schedule' },
  { href: '/admin/logs', label: 'Logs' },
  { href: '/admin/dead-letters', label: 'Dead letters' },
];

/** Every admin page route, in one place: access checks enumerate it; adminPages serves each. */
export const ADMIN_PAGE_ROUTES = [
  'GET /admin',
  'GET /admin/services',
  'POST /admin/services',
  'POST /admin/services/:id',
  'GET /admin/discounts',
  'POST /admin/discounts',
  'GET /admin/bookings',
  'GET /admin/bookings/:id',
  'GET /admin/schedule',
  'POST /admin/schedule',
  'GET /admin/appointments',
  'GET /admin/logs',
  'GET /admin/dead-letters',
  'POST /admin/dead-letters/replay',
  'POST /admin/dead-letters/:id/replay',
] as const;
type AdminPageRoute = (typeof ADMIN_PAGE_ROUTES)[number];
type Handler = (req: Request, res: Response) => Promise<void>;

/** Pages: anonymous visitors log in first and come back; patients get the 403 page. */
const requireAdminPage: RequestHandler = (req, res, next) => {
  if (!req.user) return res.redirect(`/login?next=${encodeURIComponent(req.originalUrl)}`);
  next(req.user.role === 'admin' ? undefined : new ForbiddenError('This page is for clinic admins only.'));
};

const SERVICE_FIELDS: FieldLabels = {
  name: { id: 'name', label: 'Name' },
  description: { id: 'description', label: 'Description' },
  pricePaise: { id: 'price', label: 'Price (₹)' },
  gender: { id: 'gender', label: 'For' },
  active: { id: 'active', label: 'Active' },
  '': { id: 'name', label: 'Service' },
};
const CONFIG_FIELDS: FieldLabels = {
  discountPercent: { id: 'discount-percent', label: 'Discount percent' },
  dailyDiscountQuota: { id: 'daily-quota', label: 'Daily discount quota' },
  paymentSimulationMode: { id: 'payment-mode', label: 'Payment simulation' },
  paymentFailureRate: { id: 'failure-rate', label: 'Failure rate (%)' },
};
const BOOKING_FILTER_FIELDS: FieldLabels = {
  status: { id: 'status', label: 'Status' },
  reference: { id: 'reference', label: 'Reference' },
  patientName: { id: 'patient-name', label: 'Patient name' },
  from: { id: 'from', label: 'From' },
  to: { id: 'to', label: 'To' },
  after: { id: 'status', label: 'Page' },
  limit: { id: 'status', label: 'Page size' },
};
const AUDIT_FILTER_FIELDS: FieldLabels = {
  type: { id: 'type', label: 'Type' },
  actor: { id: 'actor', label: 'Actor' },
  bookingId: { id: 'booking-id', label: 'Booking id' },
  correlationId: { id: 'correlation-id', label: 'Correlation id' },
  from: { id: 'from', label: 'From' },
  to: { id: 'to', label: 'To' },
  after: { id: 'type', label: 'Page' },
  limit: { id: 'type', label: 'Page size' },
};

/** A link to the same list with one query value changed (or removed with null). */
function withQuery(
  path: string,
  query: Record<string, unknown>,
  change: Record<string, string | null>,
): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...query, ...change })) {
    if (typeof value === 'string' && value !== '') params.set(key, value);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Plain text of a query for the filter form: doubled or missing values show as empty. */
function shownQuery(query: Record<string, unknown>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.map((key) => [key, shownText(query[key])]));
}

/** A trace step as the shared timeline partial shows it. */
function timelineStep(step: TraceStep) {
  const data = (step.data ?? {}) as Record<string, unknown>;
  const detail =
    step.type === 'DeadLettered'
      ? `${String(data.eventType ?? 'unreadable message')}: ${String(data.error ?? '')}`
      : step.type === 'DeadLetterReplayed'
        ? `replayed by ${step.actor} to ${String(data.group ?? '')}`
        : step.type === 'ReplayHandled'
          ? `${String(data.eventType ?? '')} handled after the replay`
          : '';
  return { type: step.type, occurredAt: step.at, participant: step.participant, detail };
}

export function adminPages(deps: AdminDeps): Router {
  const router = Router();

  const renderServices = async (
    req: Request,
    res: Response,
    locals: Record<string, unknown>,
    status = 200,
  ) => {
    const services = await listServices(deps.db, { includeInactive: true });
    const editId = uuid.safeParse(req.query.edit);
    const editing = editId.success ? (services.find((service) => service.id === editId.data) ?? null) : null;
    res.status(status).render('pages/admin/services', {
      title: 'Services',
      services,
      editing,
      saved: shownText(req.query.saved),
      errors: [],
      values: editing
        ? {
            name: editing.name,
            description: editing.description,
            price: (editing.pricePaise / 100).toFixed(2),
            gender: editing.gender,
            active: editing.active,
          }
        : { active: true, gender: 'all' },
      ...locals,
    });
  };

  const saveService = async (req: Request, res: Response, serviceId: string | null) => {
    const body = formBody(req);
    try {
      // The page's form is always whole (an unticked Active is simply absent): a partial post is an error.
      const input = parse(serviceFields, serviceForm(body));
      const actor = currentUser(req).email;
      const service = serviceId
        ? await updateService(deps.db, actor, serviceId, input)
        : await createService(deps.db, actor, input);
      res.redirect(303, `/admin/services?saved=${encodeURIComponent(service.name)}`);
    } catch (error) {
      const { status, errors } = formErrors(res, error, SERVICE_FIELDS);
      const services = await listServices(deps.db, { includeInactive: true });
      await renderServices(
        req,
        res,
        {
          errors,
          editing: serviceId ? (services.find((service) => service.id === serviceId) ?? null) : null,
          values: {
            name: shownText(body.name),
            description: shownText(body.description),
            price: shownText(body.price),
            gender: shownText(body.gender),
            active: body.active === 'on',
          },
          saved: '',
        },
        status,
      );
    }
  };

  const renderDiscounts = async (res: Response, locals: Record<string, unknown>, status = 200) => {
    const [config, quota] = await Promise.all([configWithVersions(deps), quotaToday(deps.db, deps.clock)]);
    res.status(status).render('pages/admin/discounts', {
      title: 'Discounts',
      config,
      quota,
      errors: [],
      values: {
        discountPercent: String(config.discountPercent),
        dailyDiscountQuota: String(config.dailyDiscountQuota),
        paymentSimulationMode: config.paymentSimulationMode,
        failureRatePercent: String(Math.round(config.paymentFailureRate * 10_000) / 100),
      },
      scripts: ['/js/admin-discounts.js'],
      ...locals,
    });
  };

  const renderDeadLetters = async (
    req: Request,
    res: Response,
    locals: Record<string, unknown>,
    status = 200,
  ) => {
    const [open, replayed] = await Promise.all([
      listDeadLetters(deps.db, { limit: 200 }),
      listDeadLetters(deps.db, { onlyReplayed: true, limit: 20 }),
    ]);
    const outcomes = await replayOutcomes(deps.db, replayed);
    // Replay-all is offered for groups with something it can replay.
    const groups = [...new Set(open.filter((l) => l.eventId).map((l) => l.consumerGroup))].sort();
    res.status(status).render('pages/admin/dead-letters', {
      title: 'Dead letters',
      open: open.map((letter) => ({ ...letter, ...bookingOf(letter.payload) })),
      replayed: replayed.map((letter) => ({
        ...letter,
        ...bookingOf(letter.payload),
        outcome: outcomes.get(letter.id) ?? 'waiting',
      })),
      groups,
      now: deps.clock.now(),
      notice: shownText(req.query.notice),
      errors: [],
      ...locals,
    });
  };

  const handlers: Record<AdminPageRoute, Handler> = {
    ...schedulePageHandlers(deps),
    'GET /admin': async (_req, res) => {
      res.render('pages/admin/dashboard', {
        title: 'Dashboard',
        stats: await dashboardStats(deps),
        statuses: BOOKING_STATUSES,
        scripts: ['/vendor/chart.js/chart.umd.min.js', '/js/admin-dashboard.js'],
      });
    },
    'GET /admin/services': (req, res) => renderServices(req, res, {}),
    'POST /admin/services': (req, res) => saveService(req, res, null),
    'POST /admin/services/:id': async (req, res) => {
      const serviceId = uuid.safeParse(req.params.id);
      if (!serviceId.success) throw new NotFoundError('No such service.');
      await saveService(req, res, serviceId.data);
    },
    'GET /admin/discounts': (_req, res) => renderDiscounts(res, {}),
    'POST /admin/discounts': async (req, res) => {
      const body = formBody(req);
      try {
        const change = parse(configChange, configForm(body));
        const config = await updateConfig(deps.db, currentUser(req).email, change, deps.paymentDefaults);
        deps.published();
        res.redirect(303, `/admin/discounts?saved=${config.version}`);
      } catch (error) {
        const { status, errors } = formErrors(res, error, CONFIG_FIELDS);
        await renderDiscounts(
          res,
          {
            errors,
            values: {
              discountPercent: shownText(body.discountPercent),
              dailyDiscountQuota: shownText(body.dailyDiscountQuota),
              paymentSimulationMode: shownText(body.paymentSimulationMode),
              failureRatePercent: shownText(body.failureRatePercent),
            },
          },
          status,
        );
      }
    },
    'GET /admin/bookings': async (req, res) => {
      const query = req.query as Record<string, unknown>;
      const shown = shownQuery(query, ['status', 'reference', 'patientName', 'from', 'to']);
      try {
        const page = await searchBookings(deps.db, parse(bookingFilter, filledIn(query)));
        res.render('pages/admin/bookings', {
          title: 'Bookings',
          page,
          cap: COUNT_CAP,
          statuses: BOOKING_STATUSES,
          filter: shown,
          nextHref: page.next ? withQuery('/admin/bookings', shown, { after: page.next }) : null,
          firstHref: query.after ? withQuery('/admin/bookings', shown, {}) : null,
          errors: [],
        });
      } catch (error) {
        const { status, errors } = formErrors(res, error, BOOKING_FILTER_FIELDS);
        res.status(status).render('pages/admin/bookings', {
          title: 'Bookings',
          page: null,
          cap: COUNT_CAP,
          statuses: BOOKING_STATUSES,
          filter: shown,
          nextHref: null,
          firstHref: null,
          errors,
        });
      }
    },
    'GET /admin/bookings/:id': async (req, res) => {
      const bookingId = uuid.safeParse(req.params.id);
      const booking = bookingId.success ? await getBookingView(deps.db, bookingId.data) : null;
      if (!booking) throw new NotFoundError('No such booking.');
      const trace = await bookingTrace(deps.db, booking.correlationId);
      res.render('pages/admin/booking', {
        title: `Booking ${booking.reference}`,
        booking,
        steps: trace.map(timelineStep),
        audit: trace.filter((step) => step.actor !== 'system' || step.type === 'DeadLettered'),
        trace,
      });
    },
    'GET /admin/logs': async (req, res) => {
      const query = req.query as Record<string, unknown>;
      const shown = shownQuery(query, ['type', 'actor', 'bookingId', 'correlationId', 'from', 'to']);
      const types = await auditTypes(deps.db);
      try {
        const filter = parse(
          auditFilter,
          filledIn({ ...query, from: istDateTimeField(query.from), to: istDateTimeField(query.to) }),
        );
        const page = await searchAuditEntries(deps.db, { ...filter, limit: filter.limit ?? 50 });
        res.render('pages/admin/logs', {
          title: 'Logs',
          page,
          cap: COUNT_CAP,
          types,
          filter: shown,
          nextHref: page.next ? withQuery('/admin/logs', shown, { after: page.next }) : null,
          firstHref: query.after ? withQuery('/admin/logs', shown, {}) : null,
          errors: [],
        });
      } catch (error) {
        const { status, errors } = formErrors(res, error, AUDIT_FILTER_FIELDS);
        res.status(status).render('pages/admin/logs', {
          title: 'Logs',
          page: null,
          cap: COUNT_CAP,
          types,
          filter: shown,
          nextHref: null,
          firstHref: null,
          errors,
        });
      }
    },
    'GET /admin/dead-letters': (req, res) => renderDeadLetters(req, res, {}),
    'POST /admin/dead-letters/replay': async (req, res) => {
      try {
        const { group } = parse(replayGroupBody, formBody(req));
        const { replayed, notReplayable } = await replayGroup(deps.db, group, currentUser(req).email);
        deps.published();
        const skipped = notReplayable > 0 ? `; ${notReplayable} unreadable left as they are` : '';
        const notice = `Replayed ${replayed} dead letter${replayed === 1 ? '' : 's'} of ${group}${skipped}.`;
        res.redirect(303, withQuery('/admin/dead-letters', {}, { notice }));
      } catch (error) {
        const { status, errors } = formErrors(res, error, {});
        await renderDeadLetters(req, res, { errors }, status);
      }
    },
    'POST /admin/dead-letters/:id/replay': async (req, res) => {
      const letterId = deadLetterId.safeParse(req.params.id);
      if (!letterId.success) throw new NotFoundError('No such dead letter.');
      try {
        const letter = await replayOne(deps.db, letterId.data, currentUser(req).email);
        deps.published();
        const notice = `Replayed dead letter ${letter.id} (${letter.type ?? 'message'}) to ${letter.consumerGroup}.`;
        res.redirect(303, withQuery('/admin/dead-letters', {}, { notice }));
      } catch (error) {
        const { status, errors } = formErrors(res, error, {});
        await renderDeadLetters(req, res, { errors }, status);
      }
    },
  };

  router.use('/admin', requireAdminPage);
  for (const route of ADMIN_PAGE_ROUTES) {
    const [method, path] = route.split(' ') as ['GET' | 'POST', string];
    if (method === 'GET') router.get(path, handlers[route]);
    else router.post(path, handlers[route]);
  }
  return router;
}
