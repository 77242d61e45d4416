import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { republish } from '../bus/outbox.js';
import { streamGroupLagWithin } from '../bus/stream-info.js';
import type { Db } from '../db/database.js';
import { streamOf } from '../events/catalogue.js';

/** Bookings looked at per sweep; a longer stretch is taken over the next sweeps. */
const SWEEP_LIMIT = 500;
/** How far back the first sweep after a start looks. */
const FIRST_LOOKBACK_MS = 60 * 60_000;

/**
 * The confirmation is owed to every confirmed booking, and this participant alone knows whether it
 * went out. Its sweep looks at the bookings confirmed a while ago (`afterMs`) that it has no record of
 * at all (not even an attempt): their BookingConfirmed is taken as lost (Redis lost it) and published
 * again from the booking's outbox row, once. Each stretch of confirmation times is looked at once per
 * process (again after a restart); not while this group has entries left to read, since a booking
 * confirmed then may only be queued.
 */
export class ConfirmationSweep {
  private from: Date;

  constructor(
    private readonly deps: { db: Db; redis: Redis; prefix: string; group: string; afterMs: number },
    now: Date,
  ) {
    this.from = new Date(now.getTime() - deps.afterMs - FIRST_LOOKBACK_MS);
  }

  /** Returns how many BookingConfirmed events it published again; null when it waited for the backlog. */
  async sweep(now: Date): Promise<number | null> {
    const { db, redis, prefix, group, afterMs } = this.deps;
    const stream = streamOf('BookingConfirmed');
    // Redis not answering (its lag unknown): the query below still finds only bookings never heard of.
    const lags = await streamGroupLagWithin(redis, prefix, [stream]);
    if (lags.some((lag) => lag.group === group && lag.lag > 0)) return null;
    const to = new Date(now.getTime() - afterMs);
    if (to <= this.from) return 0;
    const { rows } = await sql<{ event_id: string; finished_at: Date }>`
      SELECT t.event_id, b.finished_at
      FROM booking.bookings b
      JOIN booking.timeline t ON t.booking_id = b.id AND t.type = 'BookingConfirmed'
      WHERE b.status = 'CONFIRMED' AND b.finished_at >= ${this.from} AND b.finished_at < ${to}
        AND NOT EXISTS (SELECT FROM confirmation.confirmations c WHERE c.booking_id = b.id)
      ORDER BY b.finished_at
      LIMIT ${SWEEP_LIMIT}`.execute(db);
    // A full page: the next sweep goes on from its last booking (one confirmed at that instant twice
    // over is looked at twice, harmlessly).
    this.from = rows.length === SWEEP_LIMIT ? rows[rows.length - 1]!.finished_at : to;
    return republish(
      db,
      rows.map((row) => row.event_id),
    );
  }
}
