import { expect } from 'chai';
import { requestBooking } from '../../lib/booking/booking-service.js';
import { systemClock } from '../../lib/clock.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { createUser } from '../../lib/identity/user-service.js';
import { buildPatient, buildUser, createService } from '../support/factories.js';

describe('requesting a booking (one statement)', () => {
  let db: Db;
  before(() => {
    db = createDb(process.env.DATABASE_URL as string, 2);
  });
  after(async () => {
    await db.destroy();
  });

  it('draws another reference when the one drawn is taken, and writes the booking, its step and its event', async () => {
    const user = await createUser(db, buildUser());
    const service = await createService(db);
    const request = { userId: user.id, patient: buildPatient(), serviceIds: [service.id] };
    const options = { clock: systemClock, deadlineMs: 60_000, redriveAfterMs: 60_000 };
    const first = await requestBooking(db, request, options);
    const drawn = [first.booking.reference, 'MC-TEST-0001'];
    const second = await requestBooking(db, request, { ...options, newReference: () => drawn.shift()! });

    expect(second.created).to.equal(true);
    expect(second.booking.reference).to.equal('MC-TEST-0001');
    expect(drawn).to.deep.equal([]);
    const steps = await db
      .selectFrom('booking.timeline')
      .select('type')
      .where('booking_id', '=', second.booking.id)
      .execute();
    expect(steps.map((step) => step.type)).to.deep.equal(['BookingRequested']);
    const outbox = await db
      .selectFrom('bus.outbox')
      .select(['stream', 'payload'])
      .where('event_id', 'in', (eb) =>
        eb.selectFrom('booking.timeline').select('event_id').where('booking_id', '=', second.booking.id),
      )
      .execute();
    expect(outbox).to.have.length(1);
    expect(outbox[0]?.stream).to.equal('booking');
    expect(outbox[0]?.payload).to.deep.include({ type: 'BookingRequested', bookingId: second.booking.id });
    const lines = await db
      .selectFrom('booking.booking_services')
      .select(['service_id', 'name'])
      .where('booking_id', '=', second.booking.id)
      .execute();
    expect(lines).to.deep.equal([{ service_id: service.id, name: service.name }]);
  });
});
