import { RedisStore } from 'connect-redis';
import session, { type SessionData } from 'express-session';
import type { Redis } from 'ioredis';
import type { RequestHandler } from 'express';
import type { Clock } from '../../lib/clock.js';

declare module 'express-session' {
  interface SessionData {
    /** Set when a CSRF token is issued, so an anonymous session (and its id) is kept. */
    csrf?: boolean;
    /** Set at login: when, last seen, the account's session version then, and "remember me". */
    auth?: { loginAt: number; seenAt: number; version: number; remember: boolean };
  }
}

export interface SessionLimits {
  idleMs: number;
  absoluteMs: number;
}

// seenAt is rewritten at most this often, so a busy session is not saved on every request.
const SEEN_RESOLUTION_MS = 60_000;

/**
 * A session's time to live in Redis is renewed at most once a minute per session: every request
 * otherwise costs a Redis write for nothing (the TTL is the idle limit plus that minute, and seenAt is
 * saved at the same pace, so a session in use never lapses early).
 */
class RedisStoreTouchedSparingly extends RedisStore {
  private readonly touched = new Map<string, number>();

  override set(sid: string, sess: SessionData, cb?: (error?: unknown) => void): Promise<unknown> {
    this.renewed(sid);
    return super.set(sid, sess, cb);
  }

  override touch(sid: string, sess: SessionData, cb?: (error?: unknown) => void): Promise<unknown> {
    const last = this.touched.get(sid);
    if (last !== undefined && Date.now() - last < SEEN_RESOLUTION_MS) {
      cb?.();
      return Promise.resolve();
    }
    this.renewed(sid);
    return super.touch(sid, sess, cb);
  }

  /** A save or a touch sets the full time to live again. Oldest first, so the map stays bounded. */
  private renewed(sid: string): void {
    this.touched.delete(sid);
    this.touched.set(sid, Date.now());
    if (this.touched.size > 50_000) this.touched.delete(this.touched.keys().next().value!);
  }
}

/**
 * Sessions in Redis, signed with the session keys (the first signs, all verify: rotation). The
 * cookie lasts until the browser closes unless the user asked to be remembered; Redis forgets a
 * session idle for longer than the idle limit.
 */
export function sessionMiddleware(options: {
  redis: Redis;
  prefix: string;
  keys: string[];
  secure: boolean;
  limits: SessionLimits;
}): RequestHandler {
  const ttlSeconds = Math.ceil((options.limits.idleMs + SEEN_RESOLUTION_MS) / 1000);
  return session({
    name: 'clinic.sid',
    store: new RedisStoreTouchedSparingly({
      client: options.redis,
      prefix: `${options.prefix}sess:`,
      ttl: () => ttlSeconds,
    }),
    secret: options.keys,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', secure: options.secure },
  });
}

/** Where a logged-in session stands against its account and the time limits. */
export function sessionState(
  auth: SessionData['auth'],
  accountVersion: number,
  nowMs: number,
  limits: SessionLimits,
): 'valid' | 'ended' {
  if (!auth || auth.version !== accountVersion) return 'ended';
  if (nowMs - auth.seenAt > limits.idleMs || nowMs - auth.loginAt > limits.absoluteMs) return 'ended';
  return 'valid';
}

/**
 * Checked on every request after passport: a session of an older account version (role or password
 * changed), idle too long or past its absolute lifetime is logged out before any route sees it.
 */
export function enforceSessionLimits(
  clock: Clock,
  limits: SessionLimits,
  logOut: (req: Parameters<RequestHandler>[0]) => Promise<void>,
): RequestHandler {
  return async (req, _res, next) => {
    const auth = req.session?.auth;
    if (!req.user) return next();
    const now = clock.now().getTime();
    if (sessionState(auth, req.user.sessionVersion, now, limits) === 'ended') {
      await logOut(req);
      return next();
    }
    if (auth && now - auth.seenAt >= SEEN_RESOLUTION_MS) auth.seenAt = now;
    if (auth?.remember) req.session.cookie.maxAge = Math.max(0, auth.loginAt + limits.absoluteMs - now);
    next();
  };
}
