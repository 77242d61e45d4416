import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { sweepSagas } from '../../lib/booking/saga-sweep.js';
import { streamKey } from '../../lib/bus/redis.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { keepOutboxAsFound, requestedBooking } from '../support/factories.js';

describe('the saga sweep: re-drives wait while the bus is behind', () => {
  let db: Db;
  let redis: Redis;
  const prefix = `${process.env.REDIS_PREFIX}sweep-${randomUUID().slice(0, 8)}:`;
  const redrive = { afterMs: 1, limit: 5 };
  let restoreOutbox: () => Promise<void>;
  before(async () => {
    db = createDb(process.env.DATABASE_URL as string, 2);
    redis = new Redis(process.env.REDIS_URL as string);
    restoreOutbox = await keepOutboxAsFound(db);
  });
  after(async () => {
    await restoreOutbox();
    await db.destroy();
    redis.disconnect();
  });

  /** A booking whose BookingRequested went out and was never answered (Redis lost it, or it is queued). */
  async function stalledBooking(): Promise<string> {
    const { bookingId } = await requestedBooking(db, { redriveAfterMs: redrive.afterMs });
    await db
      .updateTable('bus.outbox')
      .set({ published_at: new Date() })
      .where('payload', '@>', JSON.stringify({ bookingId }))
      .execute();
    return bookingId;
  }

  /** Whether its BookingRequested counts as published, and how often the saga was re-driven. */
  async function requestState(bookingId: string) {
    const request = await db
      .selectFrom('bus.outbox')
      .select('published_at')
      .where('payload', '@>', JSON.stringify({ bookingId, type: 'BookingRequested' }))
      .executeTakeFirstOrThrow();
    const booking = await db
      .selectFrom('booking.bookings')
      .select('redrives')
      .where('id', '=', bookingId)
      .executeTakeFirstOrThrow();
    return { published: request.published_at !== null, redrives: booking.redrives };
  }

  it('leaves a stalled saga alone while more entries than the limit wait unread, and re-drives it once they are gone', async () => {
    const bookingId = await stalledBooking();
    // A group that reads nothing: six entries of the pricing stream wait for it.
    const key = streamKey(prefix, 'pricing');
    for (let i = 0; i < 6; i++) await redis.xadd(key, '*', 'type', 'Backlog', 'event', '{}');
    await redis.xgroup('CREATE', key, 'behind', '0');
    const later = () => new Date(Date.now() + 1_000);

    const waiting = await sweepSagas({ db, redis, prefix, now: later(), redrive, backlogLimit: 5 });
    expect(waiting).to.include({ redriven: 0, unread: 6 });
    expect(await requestState(bookingId)).to.deep.equal({ published: true, redrives: 0 });

    await redis.xgroup('DESTROY', key, 'behind');
    const resumed = await sweepSagas({ db, redis, prefix, now: later(), redrive, backlogLimit: 5 });
    expect(resumed.unread).to.equal(0);
    expect(resumed.redriven).to.be.greaterThan(0);
    // Published again (the relays send it), and counted as the saga's first re-drive.
    expect(await requestState(bookingId)).to.deep.equal({ published: false, redrives: 1 });
  });
});
