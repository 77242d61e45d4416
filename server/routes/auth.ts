import { Router, type Request } from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { recordSecurityEvent, type SecurityEventType } from '../../lib/audit/security-events.js';
import type { Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import { TooManyRequestsError, UnauthorizedError, ValidationError } from '../../lib/errors.js';
import {
  changePassword,
  createUser,
  toPublicUser,
  verifyCredentials,
  type AccountUser,
} from '../../lib/identity/user-service.js';
import { logger, errorFields } from '../../lib/logger.js';
import { addressKey, type AccountLockout, type Limiter } from '../auth/rate-limit.js';
import { currentUser, requireUser } from '../auth/guards.js';
import { parse } from '../middleware/validate.js';

// A checkbox sends "on"; a JSON client sends a boolean.
const remember = z
  .union([z.boolean(), z.literal('on')])
  .optional()
  .transform((value) => value === true || value === 'on');
const password = z
  .string('use at least 10 characters')
  .min(10, 'use at least 10 characters')
  .max(200, 'use at most 200 characters');

export const signupInput = z.object({
  name: z
    .string('enter your full name')
    .trim()
    .min(1, 'enter your full name')
    .max(100, 'use at most 100 characters'),
  email: z
    .email('enter an email address like name@example.com')
    .max(254)
    .transform((value) => value.toLowerCase()),
  password,
});
export const loginInput = z.object({
  email: z
    .string('enter your email')
    .trim()
    .toLowerCase()
    .min(1, 'enter your email')
    .max(254, 'use at most 254 characters'),
  password: z
    .string('enter your password')
    .min(1, 'enter your password')
    .max(200, 'use at most 200 characters'),
  remember,
});
export const passwordChangeInput = z.object({
  currentPassword: z.string('your current password').min(1, 'your current password').max(200),
  newPassword: password,
});

export interface AuthLimits {
  /** Attempts per address and email; a success resets it. */
  login: Limiter;
  /** All attempts from one address (an IPv6 /64), whatever the email. */
  loginAddress: Limiter;
  /** Per account, from any address: progressive, so the owner waits seconds, not hours. */
  account: AccountLockout;
  signup: Limiter;
}

export interface AuthDeps {
  db: Db;
  redis: Redis;
  clock: Clock;
  prefix: string;
  limits: AuthLimits;
  /** A session's absolute lifetime: a remembered cookie lasts that long. */
  absoluteMs: number;
}

/** Writes a security event; an audit failure is logged, never turned into the user's error. */
export async function audit(
  deps: Pick<AuthDeps, 'db' | 'clock'>,
  req: Request,
  type: SecurityEventType,
  actor: string,
  data?: Record<string, unknown>,
): Promise<void> {
  const event = { type, actor, address: req.ip ?? 'unknown', data };
  await recordSecurityEvent(deps.db, event, deps.clock.now()).catch((error: unknown) => {
    logger.warn('security event not recorded', { type, ...errorFields(error) });
  });
}

/** A 429 goes to the audit trail once a minute per address and kind, so a flood writes one row, not a flood. */
export async function auditThrottled(
  deps: Pick<AuthDeps, 'db' | 'redis' | 'clock' | 'prefix'>,
  req: Request,
  type: SecurityEventType,
  actor: string,
): Promise<void> {
  const first = await deps.redis
    .set(`${deps.prefix}audit-throttled:${type}:${addressKey(req.ip)}`, '1', 'EX', 60, 'NX')
    .catch(() => null);
  if (first) await audit(deps, req, type, actor, { path: req.path });
}

async function throttledAs<T>(
  deps: AuthDeps,
  req: Request,
  type: SecurityEventType,
  actor: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof TooManyRequestsError) await auditThrottled(deps, req, type, actor);
    throw error;
  }
}

/** req.logIn regenerates the session (no fixation); the CSRF token must be fetched again after. */
export async function logIn(
  req: Request,
  user: AccountUser,
  options: { now: number; remember: boolean; absoluteMs?: number },
): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    req.logIn(user, (error) => (error ? reject(error) : resolve())),
  );
  req.session.auth = {
    loginAt: options.now,
    seenAt: options.now,
    version: user.sessionVersion,
    remember: options.remember,
  };
  // Not remembered: the cookie ends with the browser. Remembered: at the absolute end of the session.
  if (options.remember && options.absoluteMs) req.session.cookie.maxAge = options.absoluteMs;
}

export function logOut(req: Request): Promise<void> {
  return new Promise((resolve, reject) =>
    req.logout((error) =>
      error ? reject(error) : req.session.regenerate((e: unknown) => (e ? reject(e) : resolve())),
    ),
  );
}

/**
 * Validated input only reaches the limiters and the database. Counted per address, per address and
 * email, and per account; a wrong guess costs a try everywhere, a success clears the per-email counts.
 */
export async function loginWithLimits(deps: AuthDeps, req: Request, body: unknown): Promise<AccountUser> {
  const input = parse(loginInput, body);
  const address = addressKey(req.ip);
  await throttledAs(deps, req, 'LoginThrottled', input.email, async () => {
    await deps.limits.loginAddress.consume(address);
    await deps.limits.login.consume(`${address}:${input.email}`);
    await deps.limits.account.check(input.email);
  });
  const user = await verifyCredentials(deps.db, input.email, input.password);
  if (!user) {
    await deps.limits.account.failed(input.email);
    await audit(deps, req, 'LoginFailed', input.email);
    throw new UnauthorizedError('Wrong email or password.');
  }
  await deps.limits.login.reset(`${address}:${input.email}`);
  await deps.limits.account.succeeded(input.email);
  await logIn(req, user, {
    now: deps.clock.now().getTime(),
    remember: input.remember,
    absoluteMs: deps.absoluteMs,
  });
  await audit(deps, req, 'LoginSucceeded', user.email, { role: user.role, remember: input.remember });
  return user;
}

export async function signupWithLimits(deps: AuthDeps, req: Request, body: unknown): Promise<AccountUser> {
  const input = parse(signupInput, body);
  await throttledAs(deps, req, 'SignupThrottled', input.email, () =>
    deps.limits.signup.consume(addressKey(req.ip)),
  );
  const user = await createUser(deps.db, input);
  await logIn(req, user, { now: deps.clock.now().getTime(), remember: false });
  await audit(deps, req, 'SignedUp', user.email);
  return user;
}

/** Logs out and records it (the API's and the pages' logout). */
export async function logOutAudited(deps: AuthDeps, req: Request): Promise<void> {
  const actor = req.user?.email;
  await logOut(req);
  if (actor) await audit(deps, req, 'LoggedOut', actor);
}

export function authApi(deps: AuthDeps): Router {
  const router = Router();

  router.post('/auth/signup', async (req, res) => {
    const user = await signupWithLimits(deps, req, req.body);
    res.status(201).json({ user: toPublicUser(user) });
  });

  router.post('/auth/login', async (req, res) => {
    const user = await loginWithLimits(deps, req, req.body);
    res.json({ user: toPublicUser(user) });
  });

  router.post('/auth/logout', requireUser, async (req, res) => {
    await logOutAudited(deps, req);
    res.status(204).end();
  });

  // A new password ends the account's other sessions; this one carries on with the new version.
  router.post('/auth/password', requireUser, async (req, res) => {
    const input = parse(passwordChangeInput, req.body);
    const user = currentUser(req);
    await throttledAs(deps, req, 'LoginThrottled', user.email, () => deps.limits.account.check(user.email));
    const version = await changePassword(deps.db, { userId: user.id, ...input });
    if (version === null) {
      await deps.limits.account.failed(user.email);
      throw new ValidationError('Please correct the highlighted fields.', [
        { path: 'currentPassword', message: 'is not your current password' },
      ]);
    }
    if (req.session.auth) req.session.auth.version = version;
    await audit(deps, req, 'PasswordChanged', user.email);
    res.status(204).end();
  });

  router.get('/me', requireUser, (req, res) => {
    res.json({ user: toPublicUser(currentUser(req)) });
  });

  return router;
}
