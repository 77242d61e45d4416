import type { Request, RequestHandler } from 'express';
import { ForbiddenError, UnauthorizedError } from '../../lib/errors.js';
import type { PublicUser } from '../../lib/identity/user-service.js';

export const requireUser: RequestHandler = (req, _res, next) => {
  next(req.user ? undefined : new UnauthorizedError());
};

export const requireAdmin: RequestHandler = (req, _res, next) => {
  if (!req.user) return next(new UnauthorizedError());
  next(req.user.role === 'admin' ? undefined : new ForbiddenError('Admins only.'));
};

/** Bookings are made by patients: an admin account is refused with a hint. */
export const requirePatient: RequestHandler = (req, _res, next) => {
  if (!req.user) return next(new UnauthorizedError());
  next(
    req.user.role === 'user'
      ? undefined
      : new ForbiddenError(
          'Admins cannot create bookings. Please use a patient account.',
          'admin_cannot_book',
        ),
  );
};

export function currentUser(req: Request): PublicUser {
  if (!req.user) throw new UnauthorizedError();
  return req.user;
}

/** Pages: anonymous visitors go to the login page and come back afterwards. */
export const requireLoginPage: RequestHandler = (req, res, next) => {
  if (req.user) return next();
  res.redirect(`/login?next=${encodeURIComponent(req.originalUrl)}`);
};
