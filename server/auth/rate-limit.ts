import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { TooManyRequestsError } from '../../lib/errors.js';

export interface Limiter {
  consume(key: string): Promise<void>;
  reset(key: string): Promise<void>;
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
        throw rejection;
      }
    },
    async reset(key) {
      await limiter.delete(key);
    },
  };
}
