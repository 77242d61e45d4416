import { hostname } from 'node:os';
import { Redis } from 'ioredis';

/**
 * Workers wait for Redis to come back (a command is never dropped); the web fails fast so a request
 * answers 503 instead of hanging. A blocking read always gets a connection of its own.
 */
export function createRedis(url: string, role: 'worker' | 'web', name: string = role): Redis {
  return new Redis(url, {
    connectionName: name,
    lazyConnect: false,
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
}

/** Stable across restarts of one instance (CONSUMER_NAME, Heroku's DYNO), distinct between instances. */
export function consumerName(env: { CONSUMER_NAME?: string | undefined; DYNO?: string | undefined }): string {
  return env.CONSUMER_NAME ?? env.DYNO ?? `${hostname()}-${process.pid}`;
}

export function streamKey(prefix: string, stream: string): string {
  return `${prefix}stream:${stream}`;
}

export const DEAD_LETTER_STREAM = 'dead-letters';

/** The fields of a stream entry: the type apart, so a group can skip types it has no handler for unparsed. */
export function entryFields(event: { type?: unknown }): string[] {
  return ['type', typeof event.type === 'string' ? event.type : '', 'event', JSON.stringify(event)];
}
