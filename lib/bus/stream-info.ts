import type { Redis } from 'ioredis';
import { streamKey } from './redis.js';

export interface GroupLag {
  stream: string;
  group: string;
  /** Entries not yet delivered to the group. */
  lag: number;
  /** Entries delivered but not yet acknowledged. */
  pending: number;
}

/** Every consumer group of the given streams with what it still has to handle (XINFO GROUPS). */
export async function streamGroupLag(
  redis: Redis,
  prefix: string,
  streams: readonly string[],
): Promise<GroupLag[]> {
  const pipeline = redis.pipeline();
  for (const stream of streams) pipeline.call('XINFO', 'GROUPS', streamKey(prefix, stream));
  const replies = (await pipeline.exec()) ?? [];
  return streams.flatMap((stream, index) => {
    const [error, groups] = replies[index] ?? [null, []];
    // A stream nobody has written to yet has no groups.
    if (error) return [];
    return (groups as (string | number)[][]).map((fields) => {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) info[String(fields[i])] = fields[i + 1];
      return {
        stream,
        group: String(info.name),
        lag: Number(info.lag ?? 0),
        pending: Number(info.pending ?? 0),
      };
    });
  });
}

/**
 * streamGroupLag for a periodic sweep that must not hang: none ([]) when Redis does not answer within
 * `timeoutMs` or fails (a worker's connection queues commands while Redis is down).
 */
export async function streamGroupLagWithin(
  redis: Redis,
  prefix: string,
  streams: readonly string[],
  timeoutMs = 1_000,
): Promise<GroupLag[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<GroupLag[]>((resolve) => (timer = setTimeout(() => resolve([]), timeoutMs)));
  try {
    return await Promise.race([streamGroupLag(redis, prefix, streams).catch(() => []), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
