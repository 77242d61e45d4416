import { Router, type Request } from 'express';
import type passport from 'passport';
import { z } from 'zod';
import type { Db } from '../../lib/db/database.js';
import { UnauthorizedError } from '../../lib/errors.js';
import { createUser, type PublicUser } from '../../lib/identity/user-service.js';
import type { Limiter } from '../auth/rate-limit.js';
import { currentUser, requireUser } from '../auth/guards.js';
import { parse, typedText } from '../middleware/validate.js';

const email = z
  .email('enter an email address like name@example.com')
  .max(254)
  .transform((value) => value.toLowerCase());
export const signupInput = z.object({
  name: typedText(100, 'enter your full name'),
  email,
  password: z.string().min(10, 'use at least 10 characters').max(200),
});
export const loginInput = z.object({
  email: typedText(254, 'enter your email'),
  password: z.string().min(1, 'enter your password').max(200),
});

export interface AuthDeps {
  db: Db;
  passport: passport.PassportStatic;
  loginLimiter: Limiter;
  /** All attempts from one address, whatever the email: guessing across accounts is limited too. */
  loginAddressLimiter: Limiter;
  signupLimiter: Limiter;
}

function authenticate(deps: AuthDeps, req: Request): Promise<PublicUser | null> {
  return new Promise((resolve, reject) => {
    deps.passport.authenticate('local', (error: unknown, user: PublicUser | false) => {
      if (error) reject(error);
      else resolve(user || null);
    })(req, req.res, reject);
  });
}

/** req.logIn regenerates the session (no fixation); the CSRF token must be fetched again after. */
export function logIn(req: Request, user: PublicUser): Promise<void> {
  return new Promise((resolve, reject) => req.logIn(user, (error) => (error ? reject(error) : resolve())));
}

export function logOut(req: Request): Promise<void> {
  return new Promise((resolve, reject) =>
    req.logout((error) =>
      error ? reject(error) : req.session.regenerate((e: unknown) => (e ? reject(e) : resolve())),
    ),
  );
}

/** The login attempt is counted per address and email: a wrong guess costs a try, a success resets. */
export async function loginWithLimits(
  deps: AuthDeps,
  req: Request,
  input: { email: string },
): Promise<PublicUser> {
  const key = `${req.ip}:${input.email.toLowerCase()}`;
  await deps.loginAddressLimiter.consume(req.ip ?? 'unknown');
  await deps.loginLimiter.consume(key);
  const user = await authenticate(deps, req);
  if (!user) throw new UnauthorizedError('Wrong email or password.');
  await deps.loginLimiter.reset(key);
  await logIn(req, user);
  return user;
}

export async function signupWithLimits(deps: AuthDeps, req: Request, body: unknown): Promise<PublicUser> {
  const input = parse(signupInput, body);
  await deps.signupLimiter.consume(req.ip ?? 'unknown');
  const user = await createUser(deps.db, input);
  await logIn(req, user);
  return user;
}

export function authApi(deps: AuthDeps): Router {
  const router = Router();

  router.post('/auth/signup', async (req, res) => {
    const user = await signupWithLimits(deps, req, req.body);
    res.status(201).json({ user });
  });

  router.post('/auth/login', async (req, res) => {
    const input = parse(loginInput, req.body);
    const user = await loginWithLimits(deps, req, input);
    res.json({ user });
  });

  router.post('/auth/logout', requireUser, async (req, res) => {
    await logOut(req);
    res.status(204).end();
  });

  router.get('/me', requireUser, (req, res) => {
    const { id, email: userEmail, name, role } = currentUser(req);
    res.json({ user: { id, email: userEmail, name, role } });
  });

  return router;
}
