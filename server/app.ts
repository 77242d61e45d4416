import type { Event } from '../lib/events/catalogue.js';
import path from 'node:path';
import cookieParser from 'cookie-parser';
import express, { type Express, type Request } from 'express';
import type { Redis } from 'ioredis';
import type { SecurityEventType } from '../lib/audit/security-events.js';
import type { Clock } from '../lib/clock.js';
import { clinicOf, type Config } from '../lib/config.js';
import type { Db } from '../lib/db/database.js';
import { projectRoot } from '../lib/paths.js';
import { auditAdminActions } from './auth/admin-audit.js';
import { auditBookingThrottles, bookingLimits } from './auth/booking-limits.js';
import type { AccountCache } from '../lib/identity/account-cache.js';
import { configurePassport } from './auth/passport.js';
import { accountLockout, createLimiter } from './auth/rate-limit.js';
import { enforceSessionLimits, sessionMiddleware } from './auth/session.js';
import { requestContext } from './middleware/context.js';
import { errorHandler, notFound } from './middleware/errors.js';
import { hostileInputGuard } from './middleware/hostile-input.js';
import { adminApi } from './routes/admin.js';
import { scheduleAdminApi } from './routes/admin-schedule.js';
import { ADMIN_NAV, adminPages } from './routes/admin-pages.js';
import { audit, auditThrottled, authApi, logOut } from './routes/auth.js';
import { bookingInput, bookingsApi } from './routes/bookings.js';
import { healthRoutes } from './routes/health.js';
import { pages } from './routes/pages/index.js';
import { quoteApi } from './routes/quote.js';
import { cancellationPages } from './routes/cancellation-pages.js';
import { reschedulePages } from './routes/reschedule-pages.js';
import { receiptPages } from './routes/receipts.js';
import { servicesApi } from './routes/services.js';
import { slotsApi } from './routes/slots.js';
import { csrf, noStore, securityHeaders } from './security.js';
import { viewHelpers } from './views/helpers.js';

export interface AppDeps {
  config: Config;
  db: Db;
  redis: Redis;
  clock: Clock;
  /** Asks the outbox relay to publish now (after a request committed events). */
  published: () => void;
  /** Publishes events a request committed with WEB_PRODUCER itself, at once (OutboxRelay.publishCommitted). */
  publish: (events: readonly Event[]) => void;
  /** Where a session's account is looked up on every request (memory, kept right by PostgreSQL). */
  accounts: Pick<AccountCache, 'find'>;
}

/** Builds the web app; never listens (server/index.ts does). */
export function createApp(deps: AppDeps): Express {
  const { config, db, redis, clock, published, publish } = deps;
  const secure = config.production;
  const prefix = config.REDIS_PREFIX;
  const app = express();
  app.set('views', path.join(projectRoot, 'views'));
  app.set('view engine', 'ejs');
  app.set('trust proxy', config.TRUST_PROXY);
  app.disable('x-powered-by');
  // Every answer after the static files is no-store: an ETag (a hash of each body) would never be used.
  app.set('etag', false);
  Object.assign(app.locals, viewHelpers, { adminNav: ADMIN_NAV });

  app.use(requestContext);
  app.use(securityHeaders());
  app.use(
    healthRoutes({ db, redis, prefix, metricsToken: config.METRICS_TOKEN, cacheMs: config.METRICS_CACHE_MS }),
  );
  // public/ holds no api/ folder: the API's requests skip the file system look-up.
  const publicFiles = express.static(path.join(projectRoot, 'public'), { maxAge: secure ? '1h' : 0 });
  app.use((req, res, next) => (req.path.startsWith('/api/') ? next() : publicFiles(req, res, next)));
  // The dashboard's charts, served by the app itself (no CDN): only the library's built files.
  app.use(
    '/vendor/chart.js',
    express.static(path.join(projectRoot, 'node_modules/chart.js/dist'), { maxAge: secure ? '1d' : 0 }),
  );
  app.use(noStore);
  app.use(express.json({ limit: '32kb' }));
  app.use(express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 100 }));
  app.use(hostileInputGuard);
  app.use(cookieParser());
  const sessionLimits = {
    idleMs: config.SESSION_IDLE_MINUTES * 60_000,
    absoluteMs: config.SESSION_ABSOLUTE_HOURS * 3600_000,
  };
  app.use(sessionMiddleware({ redis, prefix, keys: config.keys.session, secure, limits: sessionLimits }));
  const passport = configurePassport(deps.accounts);
  app.use(passport.initialize({ compat: false }));
  app.use(passport.session());
  app.use(enforceSessionLimits(clock, sessionLimits, logOut));
  const tokens = csrf({ keys: config.keys.csrf, secure });
  app.use((req, res, next) => {
    res.locals.user = req.user ?? null;
    res.locals.currentPath = req.path;
    // Issued only when a page is rendered (render reads the locals), so API calls set no CSRF cookie.
    // Without a session (its store is down) there is nothing to bind a token to: the page renders without one.
    Object.defineProperty(res.locals, 'csrfToken', {
      enumerable: true,
      get: () => (req.session ? tokens.issue(req, res) : ''),
    });
    next();
  });

  app.get('/api/csrf-token', (req, res) => {
    res.json({ token: tokens.issue(req, res) });
  });
  app.use(tokens.protect);

  const limiter = (name: string, points: number, windowSeconds: number, message: string) =>
    createLimiter(redis, `${prefix}rl:${name}`, points, windowSeconds, message);
  const authDeps = {
    db,
    redis,
    clock,
    prefix,
    absoluteMs: sessionLimits.absoluteMs,
    limits: {
      login: limiter(
        'login',
        config.LOGIN_RATE_LIMIT,
        config.LOGIN_RATE_WINDOW_SECONDS,
        'Too many login attempts. Please wait and try again.',
      ),
      loginAddress: limiter(
        'login-address',
        config.LOGIN_ADDRESS_RATE_LIMIT,
        config.LOGIN_RATE_WINDOW_SECONDS,
        'Too many login attempts from here. Please wait and try again.',
      ),
      account: accountLockout({
        redis,
        keyPrefix: `${prefix}rl:login-account`,
        clock,
        freeAttempts: config.LOGIN_ACCOUNT_FREE_ATTEMPTS,
        maxLockSeconds: config.LOGIN_ACCOUNT_MAX_LOCK_SECONDS,
      }),
      signup: limiter(
        'signup',
        config.SIGNUP_RATE_LIMIT,
        config.SIGNUP_RATE_WINDOW_SECONDS,
        'Too many sign-ups from here. Please try again later.',
      ),
    },
  };
  const record = (req: Request, type: SecurityEventType, data: Record<string, unknown>) =>
    audit(authDeps, req, type, req.user?.email ?? 'anonymous', data);
  app.use(['/api/admin', '/admin'], auditAdminActions(record));

  // One count for the API's bookings and the wizard's: the wizard's booking is its saved progress.
  // Their 429s are audited by auditBookingThrottles, after the routes.
  const booking = bookingInput(clock);
  const bookingLimiter = limiter(
    'bookings',
    config.BOOKING_RATE_LIMIT,
    config.BOOKING_RATE_WINDOW_SECONDS,
    'Too many bookings in a short time. Please try again later.',
  );
  const limitBookings = (read: Parameters<typeof bookingLimits>[0]['read']) =>
    bookingLimits({ db, limiter: bookingLimiter, read });
  app.post(
    '/api/bookings',
    limitBookings((req) => ({
      valid: booking.safeParse(req.body).success,
      idempotencyKey: req.get('idempotency-key'),
    })),
  );
  app.post(
    '/wizard/confirm',
    limitBookings((req) => ({
      valid: booking.safeParse(req.session.wizard).success,
      idempotencyKey: req.session.wizard?.idempotencyKey,
    })),
  );
  const pendingLimit = config.BOOKING_PENDING_LIMIT;

  const paymentDefaults = { mode: config.PAYMENT_SIMULATION_MODE, failureRate: config.PAYMENT_FAILURE_RATE };
  app.use('/api', authApi(authDeps));
  app.use('/api', servicesApi(db));
  app.use('/api', slotsApi({ db, clock }));
  app.use(
    '/api',
    bookingsApi({
      db,
      clock,
      deadlineMs: config.SAGA_DEADLINE_MS,
      pendingLimit,
      cancellationCutoffMinutes: config.CANCELLATION_CUTOFF_MINUTES,
      redriveAfterMs: config.SAGA_REDRIVE_AFTER_MS,
      published,
      publish,
    }),
  );
  app.use('/api', quoteApi({ db, clock }));
  const adminDeps = { db, redis, prefix: config.REDIS_PREFIX, clock, paymentDefaults, published };
  app.use('/api', adminApi(adminDeps));
  app.use('/api', scheduleAdminApi({ db, clock, published }));
  app.use(adminPages(adminDeps));
  app.use(receiptPages({ db, clinic: clinicOf(config) }));
  const cancellationCutoffMinutes = config.CANCELLATION_CUTOFF_MINUTES;
  app.use(
    cancellationPages({
      db,
      clock,
      cancellationCutoffMinutes,
      redriveAfterMs: config.SAGA_REDRIVE_AFTER_MS,
      published,
    }),
  );
  app.use(
    reschedulePages({
      db,
      clock,
      cancellationCutoffMinutes,
      redriveAfterMs: config.SAGA_REDRIVE_AFTER_MS,
      published,
    }),
  );
  app.use(
    pages({
      ...authDeps,
      clock,
      deadlineMs: config.SAGA_DEADLINE_MS,
      redriveAfterMs: config.SAGA_REDRIVE_AFTER_MS,
      pendingLimit,
      cancellationCutoffMinutes,
      publish,
    }),
  );
  app.use(
    auditBookingThrottles(['/api/bookings', '/wizard/confirm'], (req) =>
      auditThrottled(authDeps, req, 'BookingThrottled', req.user?.email ?? 'anonymous'),
    ),
  );

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
