import { expect } from 'chai';
import { sql } from 'kysely';
import { bookingHandlers } from '../../lib/booking/booking-handlers.js';
import type { Handler, HandlerContext } from '../../lib/bus/consumer.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { followUp } from '../../lib/events/catalogue.js';
import { requestedBooking } from '../support/factories.js';
import { sagaEvent } from '../support/handlers.js';

describe('a saga step updates its booking in place', () => {
  let db: Db;
  const handlers = bookingHandlers({ afterMs: 60_000, limit: 1 });

  before(() => {
    db = createDb(process.env.DATABASE_URL as string, 2);
  });
  after(async () => {
    await db.destroy();
  });

  const clockOf = (bookingId: string) =>
    db
      .selectFrom('booking.bookings')
      .select(['redrive_at', 'redrive_armed', 'slot_outcome'])
      .where('id', '=', bookingId)
      .executeTakeFirstOrThrow();

  it('moves the re-drive clock with a HOT update: none of the fifteen indexes gets an entry', async () => {
    const { bookingId, service, patient } = await requestedBooking(db);
    const before = await clockOf(bookingId);
    const step = sagaEvent(
      'SlotSkipped',
      {
        request: {
          serviceIds: [service.id],
          patient: { gender: patient.gender, dateOfBirth: patient.dateOfBirth },
        },
      },
      bookingId,
    );

    // The transaction's own counters of the table, read before it commits: nothing else is counted.
    const counts = await db.transaction().execute(async (trx) => {
      const handler = handlers.SlotSkipped as Handler<'SlotSkipped'>;
      const emit: HandlerContext['emit'] = (type, data) => followUp(step, type, data) as never;
      await handler(step, { trx, emit });
      const { rows } = await sql<{ updated: string; hot: string }>`
        SELECT pg_stat_get_xact_tuples_updated('booking.bookings'::regclass) AS updated,
               pg_stat_get_xact_tuples_hot_updated('booking.bookings'::regclass) AS hot`.execute(trx);
      return rows[0]!;
    });

    const after = await clockOf(bookingId);
    expect(after.slot_outcome).to.equal('skipped');
    expect(after.redrive_at).to.be.an.instanceOf(Date);
    expect(after.redrive_at?.getTime()).to.not.equal(before.redrive_at?.getTime());
    expect(after.redrive_armed).to.equal(true);
    expect({ updated: Number(counts.updated), hot: Number(counts.hot) }).to.deep.equal({
      updated: 1,
      hot: 1,
    });
  });

  it('keeps the armed flag with the clock: cleared when the saga awaits nothing', async () => {
    const { bookingId } = await requestedBooking(db);
    await db.updateTable('booking.bookings').set({ redrive_at: null }).where('id', '=', bookingId).execute();
    expect(await clockOf(bookingId)).to.include({ redrive_at: null, redrive_armed: false });
    await db
      .updateTable('booking.bookings')
      .set({ redrive_at: new Date() })
      .where('id', '=', bookingId)
      .execute();
    expect((await clockOf(bookingId)).redrive_armed).to.equal(true);
  });
});
