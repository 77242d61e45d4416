import { isIPv4, isIPv6 } from 'node:net';
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Clock } from '../../lib/clock.js';
import { ServiceUnavailableError, TooManyRequestsError } from '../../lib/errors.js';

export interface Limiter {
  consume(key: string): Promise<void>;
  reset(key: string): Promise<void>;
}

/**
 * With Redis unreachable a limiter cannot count, so it refuses (503 with Retry-After): an attempt
 * that is not counted is not checked either.
 */
function unavailable(error: unknown): never {
  throw new ServiceUnavailableError('Attempts cannot be counted right now. Please retry shortly.', error);
}

/** A fixed-window limit kept in Redis, so every web process shares it. */
export function createLimiter(
  redis: Redis,
  keyPrefix: string,
  points: number,
  durationSeconds: number,
  message: string,
): Limiter {
  const limiter = new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration: durationSeconds });
  return {
    async consume(key) {
      try {
        await limiter.consume(key);
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) {
          throw new TooManyRequestsError(message, Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
        }
        unavailable(rejection);
      }
    },
    async reset(key) {
      await limiter.delete(key).catch(unavailable);
    },
  };
}

/**
 * The bucket of a client address: an IPv4 address itself, an IPv6 address by its /64 (one
 * subscriber usually holds a whole /64, so counting single addresses would be no limit at all).
 */
export function addressKey(ip: string | undefined): string {
  const address = (ip ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return 'unknown';
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // An embedded IPv4 tail (::ffff:a.b.c.d forms) lies in the low 64 bits, which are dropped anyway.
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

export interface AccountLockout {
  /** Refuses (429) while the account is locked. */
  check(account: string): Promise<void>;
  failed(account: string): Promise<void>;
  succeeded(account: string): Promise<void>;
}

// Atomically counts a failure; from the free attempts on, locks for base × 2^(excess), capped.
const FAIL_SCRIPT = `
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local free = tonumber(ARGV[2])
if failures >= free then
  local lock = math.min(tonumber(ARGV[3]) * math.pow(2, failures - free), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 'lockedUntil', tonumber(ARGV[1]) + lock)
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return failures`;

/**
 * Login per account, whatever the address: after `freeAttempts` failures each further one locks the
 * account for 1 s, 2 s, 4 s … up to `maxLockSeconds`, so a guesser spread over many addresses gets
 * a handful of tries an hour, while the owner waits seconds, not hours. A success clears it.
 */
export function accountLockout(options: {
  redis: Redis;
  keyPrefix: string;
  clock: Clock;
  freeAttempts: number;
  maxLockSeconds: number;
}): AccountLockout {
  const { redis, keyPrefix, clock } = options;
  const key = (account: string) => `${keyPrefix}:${account}`;
  const maxLockMs = options.maxLockSeconds * 1000;
  // Failures are forgotten a while after the longest lock, so an old streak does not linger.
  const memoryMs = maxLockMs * 4;
  return {
    async check(account) {
      const lockedUntil = Number((await redis.hget(key(account), 'lockedUntil').catch(unavailable)) ?? 0);
      const waitMs = lockedUntil - clock.now().getTime();
      if (waitMs > 0) {
        throw new TooManyRequestsError(
          'Too many failed logins for this account. Please wait and try again.',
          Math.ceil(waitMs / 1000),
        );
      }
    },
    async failed(account) {
      await redis
        .eval(
          FAIL_SCRIPT,
          1,
          key(account),
          clock.now().getTime(),
          options.freeAttempts,
          1000,
          maxLockMs,
          memoryMs,
        )
        .catch(unavailable);
    },
    async succeeded(account) {
      await redis.del(key(account)).catch(unavailable);
    },
  };
}
