import passport from 'passport';
import type { AccountCache } from '../../lib/identity/account-cache.js';
import type { AccountUser } from '../../lib/identity/user-service.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends AccountUser {}
  }
}

/** Passport keeps the user id in the session; credentials are checked by the login route's schema first. */
export function configurePassport(accounts: Pick<AccountCache, 'find'>): passport.PassportStatic {
  const instance = new passport.Passport() as unknown as passport.PassportStatic;
  instance.serializeUser((user, done) => done(null, user.id));
  instance.deserializeUser((id: unknown, done) => {
    if (typeof id !== 'string') return done(null, false);
    accounts.find(id).then(
      (user) => done(null, user ?? false),
      (error: unknown) => done(error),
    );
  });
  return instance;
}
