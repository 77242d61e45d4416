import type { Redis } from 'ioredis';
import { streamKey } from './redis.js';

/**
 * Trims a stream below the oldest entry any group still needs: the smallest pending id, else the
 * group's last delivered id. Entries younger than `retainMs` are kept too, so a group created a little
 * later (a participant deployed after the others) still finds its events. A stream without groups is
 * left alone.
 */
export async function trimStream(
  redis: Redis,
  prefix: string,
  stream: string,
  retainMs: number,
): Promise<number> {
  const key = streamKey(prefix, stream);
  let groups: (string | number)[][];
  try {
    groups = (await redis.call('XINFO', 'GROUPS', key)) as (string | number)[][];
  } catch (error) {
    if (String(error).includes('no such key')) return 0;
    throw error;
  }
  if (groups.length === 0) return 0;
  let safe = `${Date.now() - retainMs}-0`;
  for (const fields of groups) {
    const info = toRecord(fields);
    const group = String(info.name);
    let needed = String(info['last-delivered-id']);
    if (Number(info.pending) > 0) {
      const [, smallest] = (await redis.xpending(key, group)) as [
        number,
        string | null,
        string | null,
        unknown,
      ];
      if (smallest) needed = smallest;
    }
    if (compareIds(needed, safe) < 0) safe = needed;
  }
  // Exact MINID: never removes an entry at or above the threshold.
  return Number(await redis.xtrim(key, 'MINID', safe));
}

export function compareIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}

function toRecord(fields: (string | number)[]): Record<string, string | number> {
  const record: Record<string, string | number> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) record[String(fields[i])] = fields[i + 1] as string | number;
  return record;
}
