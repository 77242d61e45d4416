import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { bookingHandlers } from '../../lib/booking/booking-handlers.js';
import { streamKey } from '../../lib/bus/redis.js';
import { ConfirmationSweep } from '../../lib/confirmation/confirmation-sweep.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { confirmedBooking } from '../support/confirmed-booking.js';
import { createService, keepOutboxAsFound } from '../support/factories.js';

describe('the confirmation sweep: a BookingConfirmed never heard of is asked for again', () => {
  let db: Db;
  let redis: Redis;
  const handlers = bookingHandlers({ afterMs: 60_000, limit: 1 });
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

  /** A confirmed booking whose BookingConfirmed went out (its outbox row marked published). */
  async function confirmed(): Promise<{ id: string; eventId: string }> {
    const service = await createService(db);
    const booking = await confirmedBooking(db, handlers, { services: [service] });
    const step = await db
      .selectFrom('booking.timeline')
      .select('event_id')
      .where('booking_id', '=', booking.id)
      .where('type', '=', 'BookingConfirmed')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('bus.outbox')
      .values({
        stream: 'booking',
        event_id: step.event_id,
        payload: JSON.stringify({ type: 'BookingConfirmed', eventId: step.event_id }),
        causation_id: null,
        producer: 'booking',
        published_at: new Date(),
      })
      .execute();
    return { id: booking.id, eventId: step.event_id };
  }

  const publishedAgain = async (eventId: string) => {
    const row = await db
      .selectFrom('bus.outbox')
      .select('published_at')
      .where('event_id', '=', eventId)
      .executeTakeFirstOrThrow();
    return row.published_at === null;
  };

  it('publishes again, once, the confirmation of a booking it has no record of; not one it sent', async () => {
    const prefix = `${process.env.REDIS_PREFIX}confirm-sweep-${randomUUID().slice(0, 8)}:`;
    const lost = await confirmed();
    const sent = await confirmed();
    await db
      .insertInto('confirmation.confirmations')
      .values({
        booking_id: sent.id,
        channel: 'file',
        recipient: 'patient@example.com',
        status: 'sent',
        message_id: `<confirmation-${sent.id}@clinic.example>`,
        lease_until: null,
      })
      .execute();
    const now = Date.now();
    const sweep = new ConfirmationSweep(
      { db, redis, prefix, group: 'confirmation', afterMs: 1_000 },
      new Date(now),
    );

    // Confirmed just now: not yet a while ago.
    expect(await sweep.sweep(new Date(now + 500))).to.equal(0);
    expect(await publishedAgain(lost.eventId)).to.equal(false);

    // A group that still has entries to read: they may hold the booking's event, so nothing is asked.
    const key = streamKey(prefix, 'booking');
    await redis.xadd(key, '*', 'type', 'BookingConfirmed', 'event', '{}');
    await redis.xgroup('CREATE', key, 'confirmation', '0');
    expect(await sweep.sweep(new Date(now + 5_000))).to.equal(null);
    expect(await publishedAgain(lost.eventId)).to.equal(false);
    await redis.xgroup('DESTROY', key, 'confirmation');

    expect(await sweep.sweep(new Date(now + 5_000))).to.be.at.least(1);
    expect(await publishedAgain(lost.eventId)).to.equal(true);
    expect(await publishedAgain(sent.eventId)).to.equal(false);

    // Its stretch of time is done: marked published again, it is not asked for a second time.
    await db
      .updateTable('bus.outbox')
      .set({ published_at: new Date() })
      .where('event_id', '=', lost.eventId)
      .execute();
    expect(await sweep.sweep(new Date(now + 10_000))).to.equal(0);
    expect(await publishedAgain(lost.eventId)).to.equal(false);
  });
});
