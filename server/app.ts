import path from 'node:path';
import cookieParser from 'cookie-parser';
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import type { Clock } from '../lib/clock.js';
import { clinicOf, type Config } from '../lib/config.js';
import type { Db } from '../lib/db/database.js';
import { projectRoot } from '../lib/paths.js';
import { configurePassport } from './auth/passport.js';
import { createLimiter } from './auth/rate-limit.js';
import { sessionMiddleware } from './auth/session.js';
import { requestContext } from './middleware/context.js';
import { errorHandler, notFound } from './middleware/errors.js';
import { adminApi } from './routes/admin.js';
import { scheduleAdminApi } from './routes/admin-schedule.js';
import { ADMIN_NAV, adminPages } from './routes/admin-pages.js';
import { authApi } from './routes/auth.js';
import { bookingsApi } from './routes/bookings.js';
import { healthRoutes } from './routes/health.js';
import { pages } from './routes/pages/index.js';
import { quoteApi } from './routes/quote.js';
import { cancellationPages } from './routes/cancellation-pages.js';
import { receiptPages } from './routes/receipts.js';
import { servicesApi } from './routes/services.js';
import { slotsApi } from './routes/slots.js';
import { csrf, securityHeaders } from './security.js';
import { viewHelpers } from './views/helpers.js';

export interface AppDeps {
  config: Config;
  db: Db;
  redis: Redis;
  clock: Clock;
  /** Asks the outbox relay to publish now (after a request committed events). */
  published: () => void;
}

/** Builds the web app; never listens (server/index.ts does). */
export function createApp(deps: AppDeps): Express {
  const { config, db, redis, clock, published } = deps;
  const secure = config.NODE_ENV === 'production';
  const app = express();
  app.set('views', path.join(projectRoot, 'views'));
  app.set('view engine', 'ejs');
  app.set('trust proxy', secure ? 1 : false);
  app.disable('x-powered-by');
  Object.assign(app.locals, viewHelpers, { adminNav: ADMIN_NAV });

  app.use(requestContext);
  app.use(securityHeaders());
  app.use(healthRoutes({ db, redis, prefix: config.REDIS_PREFIX }));
  app.use(express.static(path.join(projectRoot, 'public'), { maxAge: secure ? '1h' : 0 }));
  // The dashboard's charts, served by the app itself (no CDN): only the library's built files.
  app.use(
    '/vendor/chart.js',
    express.static(path.join(projectRoot, 'node_modules/chart.js/dist'), { maxAge: secure ? '1d' : 0 }),
  );
  app.use(express.json({ limit: '32kb' }));
  app.use(express.urlencoded({ extended: false, limit: '32kb' }));
  app.use(cookieParser());
  app.use(sessionMiddleware({ redis, prefix: config.REDIS_PREFIX, secret: config.SESSION_SECRET, secure }));
  const passport = configurePassport(db);
  app.use(passport.initialize());
  app.use(passport.session());
  const tokens = csrf({ secret: config.SESSION_SECRET, secure });
  app.use((req, res, next) => {
    res.locals.user = req.user ?? null;
    res.locals.currentPath = req.path;
    // Issued only when a page is rendered (render reads the locals), so API calls set no CSRF cookie.
    Object.defineProperty(res.locals, 'csrfToken', { enumerable: true, get: () => tokens.issue(req, res) });
    next();
  });

  app.get('/api/csrf-token', (req, res) => {
    res.json({ token: tokens.issue(req, res) });
  });
  app.use(tokens.protect);

  const authDeps = {
    db,
    passport,
    loginLimiter: createLimiter(
      redis,
      `${config.REDIS_PREFIX}rl:login`,
      config.LOGIN_RATE_LIMIT,
      config.LOGIN_RATE_WINDOW_SECONDS,
      'Too many login attempts. Please wait and try again.',
    ),
    loginAddressLimiter: createLimiter(
      redis,
      `${config.REDIS_PREFIX}rl:login-address`,
      config.LOGIN_ADDRESS_RATE_LIMIT,
      config.LOGIN_RATE_WINDOW_SECONDS,
      'Too many login attempts from here. Please wait and try again.',
    ),
    signupLimiter: createLimiter(
      redis,
      `${config.REDIS_PREFIX}rl:signup`,
      config.SIGNUP_RATE_LIMIT,
      config.SIGNUP_RATE_WINDOW_SECONDS,
      'Too many sign-ups from here. Please try again later.',
    ),
  };
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
      cancellationCutoffMinutes: config.CANCELLATION_CUTOFF_MINUTES,
      redriveAfterMs: config.SAGA_REDRIVE_AFTER_MS,
      published,
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
    pages({ ...authDeps, clock, deadlineMs: config.SAGA_DEADLINE_MS, cancellationCutoffMinutes, published }),
  );

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
