import type { Redis } from 'ioredis';
import type { Db } from '../db/database.js';
import { streamGroupLagWithin } from '../bus/stream-info.js';
import { streamNames } from '../events/catalogue.js';
import { failOverdueBookings, redriveStalledSagas, type RedriveOptions } from './booking-handlers.js';

/**
 * Entries waiting unread on the saga's streams past which the bus counts as behind: a few read batches
 * of every group is normal, thousands are a backlog.
 */
export const REDRIVE_BACKLOG_LIMIT = 500;

export interface SweepResult {
  failed: number;
  redriven: number;
  /** Entries not yet read by their groups, over every saga stream (0 when Redis could not tell). */
  unread: number;
}

/**
 * The booking worker's periodic sweep: fails the sagas past their deadline, then re-drives those that
 * made no progress. Not while the bus is behind: a saga that looks stalled then is only queued, and
 * publishing its chain again would add duplicates to every group's backlog (load that feeds itself).
 * The re-drives wait for a sweep that finds the backlog gone; the deadline still applies meanwhile.
 */
export async function sweepSagas(deps: {
  db: Db;
  redis: Redis;
  prefix: string;
  now: Date;
  redrive: RedriveOptions;
  backlogLimit?: number;
}): Promise<SweepResult> {
  const { db, redis, prefix, now, redrive, backlogLimit = REDRIVE_BACKLOG_LIMIT } = deps;
  const failed = await failOverdueBookings(db, now, redrive);
  // Redis not answering: re-drive as if nothing were queued (the outbox publishes once it is back).
  const lags = await streamGroupLagWithin(redis, prefix, streamNames);
  const unread = lags.reduce((sum, { lag }) => sum + lag, 0);
  if (unread > backlogLimit) return { failed, redriven: 0, unread };
  return { failed, redriven: await redriveStalledSagas(db, now, redrive), unread };
}
