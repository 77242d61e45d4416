import { RedisStore } from 'connect-redis';
import session from 'express-session';
import type { Redis } from 'ioredis';
import type { RequestHandler } from 'express';

declare module 'express-session' {
  interface SessionData {
    /** Set when a CSRF token is issued, so an anonymous session (and its id) is kept. */
    csrf?: boolean;
  }
}

export function sessionMiddleware(options: {
  redis: Redis;
  prefix: string;
  secret: string;
  secure: boolean;
}): RequestHandler {
  return session({
    name: 'clinic.sid',
    store: new RedisStore({ client: options.redis, prefix: `${options.prefix}sess:` }),
    secret: options.secret,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', secure: options.secure, maxAge: 8 * 3600_000 },
  });
}
