import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import { bookingHandlers } from '../../lib/booking/booking-handlers.js';
import { getBookingView, getBookingViews } from '../../lib/booking/booking-service.js';
import { systemClock } from '../../lib/clock.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { confirmedBooking } from '../support/confirmed-booking.js';
import { createService } from '../support/factories.js';

describe('one booking’s view (the statement each connection prepares)', function () {
  this.timeout(30_000);
  let db: Db;
  let booking: { id: string };

  before(async () => {
    db = createDb(process.env.DATABASE_URL as string, 2);
    const services = [
      await createService(db, { pricePaise: 45_000 }),
      await createService(db, { pricePaise: 30_000 }),
    ];
    const handlers = bookingHandlers({ afterMs: 60_000, limit: 1 }, { clock: systemClock });
    booking = await confirmedBooking(db, handlers, { services });
  });
  after(async () => {
    await db.destroy();
  });

  it('is the view the lists show, with its owner', async () => {
    const [listed] = await getBookingViews(db, { ids: [booking.id] });
    const owner = await db
      .selectFrom('booking.bookings')
      .select('user_id')
      .where('id', '=', booking.id)
      .executeTakeFirstOrThrow();

    const view = await getBookingView(db, booking.id);

    expect(view).to.deep.equal({ ...listed, userId: owner.user_id });
    expect(view!.status).to.equal('CONFIRMED');
    expect(view!.services).to.have.length(2);
    expect(view!.events.map((event) => event.type)).to.include('BookingConfirmed');
  });

  it('is null for an unknown id and for anything that is not a UUID', async () => {
    expect(await getBookingView(db, randomUUID())).to.equal(null);
    expect(await getBookingView(db, `${booking.id}' OR true --`)).to.equal(null);
    expect(await getBookingView(db, '')).to.equal(null);
  });

  it('prepares the statement again on a connection that no longer holds it', async () => {
    const expected = await getBookingView(db, booking.id);
    await db.connection().execute(async (connection) => {
      await getBookingView(connection, booking.id);
      await sql`DEALLOCATE ALL`.execute(connection);

      expect(await getBookingView(connection, booking.id)).to.deep.equal(expected);
    });
  });

  it('prepares it again when a migration changed a column’s type under it', async () => {
    const expected = await getBookingView(db, booking.id);
    await db.connection().execute(async (connection) => {
      await getBookingView(connection, booking.id);
      await sql`ALTER TABLE booking.bookings ALTER COLUMN reason TYPE varchar(500)`.execute(connection);
      try {
        expect(await getBookingView(connection, booking.id)).to.deep.equal(expected);
      } finally {
        await sql`ALTER TABLE booking.bookings ALTER COLUMN reason TYPE text`.execute(connection);
      }
    });
  });
});
