import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { streamGroupLag, type GroupLag } from '../bus/stream-info.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import { streamNames } from '../events/catalogue.js';
import { errorFields, logger } from '../logger.js';
import { quotaToday } from '../quota/quota-handlers.js';
import { fillRateToday } from '../scheduling/slots-service.js';
import { addHistogram, quantileMs as bucketQuantile } from './stats-rules.js';

/** Whole milliseconds for the dashboard. */
function quantileMs(histogram: ReadonlyMap<number, number>, q: number): number | null {
  const ms = bucketQuantile(histogram, q);
  return ms === null ? null : Math.round(ms);
}

export interface MinuteFigures {
  minute: string;
  requested: number;
  /** Bookings that reached each terminal status in this minute. */
  finished: Record<string, number>;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface DashboardStats {
  at: string;
  bookingsByStatus: Record<string, number>;
  eventsByType: Record<string, number>;
  quota: { date: string; used: number; limit: number };
  /** Today's places held over places offered (null on a closed day). */
  appointments: { date: string; held: number; places: number; fillRate: number | null };
  /** Sagas finished in the last hour: request to terminal status. */
  sagaLatency: { count: number; p50Ms: number | null; p95Ms: number | null };
  /** The last 60 minutes, oldest first, the current minute last. */
  perMinute: MinuteFigures[];
  outboxBacklog: number;
  streamLag: GroupLag[];
  deadLetters: number;
}

const WINDOW_MINUTES = 60;
const STATUSES = ['PENDING', 'CONFIRMED', 'REJECTED', 'FAILED'];

/** Every figure of the dashboard from pre-aggregated counters: its cost does not grow with the bookings. */
export async function dashboardStats(deps: {
  db: Db;
  redis: Redis;
  prefix: string;
  clock: Clock;
}): Promise<DashboardStats> {
  const { db, clock } = deps;
  const now = clock.now();
  const lastMinute = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  const firstMinute = new Date(lastMinute.getTime() - (WINDOW_MINUTES - 1) * 60_000);
  await maintainCounters(db, now);
  const [statusRows, typeRows, quota, minuteRows, latencyRows, outbox, letters, streamLag, appointments] =
    await Promise.all([
      sql<{ key: string; count: number }>`
      SELECT status AS key, sum(count)::bigint AS count FROM stats.booking_status GROUP BY status`.execute(
        db,
      ),
      sql<{ key: string; count: number }>`
      SELECT type AS key, sum(count)::bigint AS count FROM stats.event_types GROUP BY type`.execute(db),
      quotaToday(db, clock),
      sql<{ minute: Date; outcome: string; count: number }>`
      SELECT minute, outcome, sum(count)::bigint AS count FROM stats.minute_bookings
      WHERE minute BETWEEN ${firstMinute} AND ${lastMinute} GROUP BY minute, outcome`.execute(db),
      sql<{ minute: Date; bucket: number; count: number }>`
      SELECT minute, bucket, sum(count)::bigint AS count FROM stats.minute_latency
      WHERE minute BETWEEN ${firstMinute} AND ${lastMinute} GROUP BY minute, bucket`.execute(db),
      db
        .selectFrom('bus.outbox')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('published_at', 'is', null)
        .executeTakeFirstOrThrow(),
      db
        .selectFrom('bus.dead_letters')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('replayed_at', 'is', null)
        .executeTakeFirstOrThrow(),
      streamGroupLag(deps.redis, deps.prefix, streamNames),
      fillRateToday(db, clock),
    ]);

  const bookingsByStatus: Record<string, number> = Object.fromEntries(STATUSES.map((status) => [status, 0]));
  for (const row of statusRows.rows) bookingsByStatus[row.key] = Number(row.count);
  const eventsByType = Object.fromEntries(typeRows.rows.map((row) => [row.key, Number(row.count)]));

  const minutes = new Map<
    number,
    { requested: number; finished: Record<string, number>; histogram: Map<number, number> }
  >();
  for (let i = 0; i < WINDOW_MINUTES; i++) {
    minutes.set(firstMinute.getTime() + i * 60_000, { requested: 0, finished: {}, histogram: new Map() });
  }
  for (const row of minuteRows.rows) {
    const slot = minutes.get(row.minute.getTime());
    if (!slot) continue;
    if (row.outcome === 'REQUESTED') slot.requested += Number(row.count);
    else slot.finished[row.outcome] = (slot.finished[row.outcome] ?? 0) + Number(row.count);
  }
  const hour = new Map<number, number>();
  for (const row of latencyRows.rows) {
    const slot = minutes.get(row.minute.getTime());
    if (!slot) continue;
    addHistogram(slot.histogram, row.bucket, Number(row.count));
    addHistogram(hour, row.bucket, Number(row.count));
  }
  const perMinute = [...minutes.entries()].map(([minute, slot]) => ({
    minute: new Date(minute).toISOString(),
    requested: slot.requested,
    finished: slot.finished,
    p50Ms: quantileMs(slot.histogram, 0.5),
    p95Ms: quantileMs(slot.histogram, 0.95),
  }));

  return {
    at: now.toISOString(),
    bookingsByStatus,
    eventsByType,
    quota,
    appointments,
    sagaLatency: {
      count: [...hour.values()].reduce((sum, count) => sum + count, 0),
      p50Ms: quantileMs(hour, 0.5),
      p95Ms: quantileMs(hour, 0.95),
    },
    perMinute,
    outboxBacklog: Number(outbox.count),
    streamLag,
    deadLetters: Number(letters.count),
  };
}

const MAINTAIN_EVERY_MS = 10 * 60_000;
const KEEP_MINUTES_MS = 2 * 24 * 3600_000;
let lastMaintained = 0;

/** foldCounters at most every ten minutes per process; a failure only waits for the next time. */
async function maintainCounters(db: Db, now: Date): Promise<void> {
  if (now.getTime() - lastMaintained < MAINTAIN_EVERY_MS) return;
  lastMaintained = now.getTime();
  try {
    await foldCounters(db, now);
  } catch (error) {
    logger.warn('stats maintenance failed; will try again later', errorFields(error));
  }
}

/**
 * Folds the backends' counter rows into shard 0 (rows a live transaction holds are skipped, never
 * waited on) and drops per-minute rows older than two days. One process at a time.
 */
export async function foldCounters(db: Db, now: Date): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const locked = await sql<{ locked: boolean }>`
      SELECT pg_try_advisory_xact_lock(hashtext('stats.maintain')) AS locked`.execute(trx);
    if (!locked.rows[0]?.locked) return;
    for (const [table, key] of [
      ['booking_status', 'status'],
      ['event_types', 'type'],
    ] as const) {
      await sql`
        WITH moved AS (
          DELETE FROM ${sql.table(`stats.${table}`)} WHERE (${sql.ref(key)}, shard) IN (
            SELECT ${sql.ref(key)}, shard FROM ${sql.table(`stats.${table}`)}
            WHERE shard <> 0 FOR UPDATE SKIP LOCKED)
          RETURNING ${sql.ref(key)} AS key, count)
        INSERT INTO ${sql.table(`stats.${table}`)} (${sql.ref(key)}, shard, count)
          SELECT key, 0, sum(count) FROM moved GROUP BY key ORDER BY key
        ON CONFLICT (${sql.ref(key)}, shard) DO UPDATE
          SET count = ${sql.table(`stats.${table}`)}.count + excluded.count
      `.execute(trx);
    }
    const cutoff = new Date(now.getTime() - KEEP_MINUTES_MS);
    await sql`DELETE FROM stats.minute_bookings WHERE minute < ${cutoff}`.execute(trx);
    await sql`DELETE FROM stats.minute_latency WHERE minute < ${cutoff}`.execute(trx);
  });
}
