import { expect } from 'chai';
import { bookingHandlers } from '../../lib/booking/booking-handlers.js';
import { requestBooking } from '../../lib/booking/booking-service.js';
import { systemClock } from '../../lib/clock.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { buildPatient, buildUser, createService } from '../support/factories.js';
import { createUser } from '../../lib/identity/user-service.js';
import { handle, sagaEvent } from '../support/handlers.js';

describe('the booking participant prices the booking', () => {
  let db: Db;
  const handlers = bookingHandlers({ afterMs: 60_000, limit: 1 });

  before(() => {
    db = createDb(process.env.DATABASE_URL as string, 2);
  });
  after(async () => {
    await db.destroy();
  });

  async function booked(count: number) {
    const user = await createUser(db, buildUser());
    const services = await Promise.all(Array.from({ length: count }, () => createService(db)));
    const request = { userId: user.id, patient: buildPatient(), serviceIds: services.map((s) => s.id) };
    const { booking } = await requestBooking(db, request, {
      clock: systemClock,
      deadlineMs: 60_000,
      redriveAfterMs: 60_000,
    });
    return { bookingId: booking.id, services };
  }

  const pricing = (basePaise: number) => ({
    basePaise,
    discountEligible: false,
    eligibility: null,
    discountBasisPoints: 0,
    discountPaise: 0,
    finalPaise: basePaise,
  });
  const priced = (bookingId: string, lines: { id: string; name: string; pricePaise: number }[]) =>
    sagaEvent(
      'PricingCalculated',
      {
        services: lines,
        pricing: pricing(lines.reduce((sum, line) => sum + line.pricePaise, 0)),
        today: '2026-12-01',
      },
      bookingId,
    );
  const linesOf = (bookingId: string) =>
    db
      .selectFrom('booking.booking_services')
      .select(['service_id', 'name', 'price_paise'])
      .where('booking_id', '=', bookingId)
      .orderBy('position')
      .execute();
  const stepsOf = async (bookingId: string) =>
    (
      await db.selectFrom('booking.timeline').select('type').where('booking_id', '=', bookingId).execute()
    ).map((step) => step.type);

  it('prices every line and the booking, and puts the step on its timeline', async () => {
    const { bookingId, services } = await booked(3);
    const lines = services.map((service, i) => ({
      id: service.id,
      name: `Line ${i}`,
      pricePaise: 1_000 * (i + 1),
    }));
    await handle(db, handlers, priced(bookingId, lines));

    expect(await linesOf(bookingId)).to.deep.equal(
      lines.map((line) => ({ service_id: line.id, name: line.name, price_paise: line.pricePaise })),
    );
    const booking = await db
      .selectFrom('booking.bookings')
      .select('base_paise')
      .where('id', '=', bookingId)
      .executeTakeFirstOrThrow();
    expect(booking.base_paise).to.equal(6_000);
    expect(await stepsOf(bookingId)).to.include('PricingCalculated');
  });

  it('after the quota decision set the price, prices the lines only, once', async () => {
    const { bookingId, services } = await booked(2);
    const lines = services.map((service) => ({ id: service.id, name: service.name, pricePaise: 2_500 }));
    await handle(
      db,
      handlers,
      sagaEvent('DiscountQuotaSkipped', { pricing: pricing(5_000), day: null }, bookingId),
    );
    await handle(db, handlers, priced(bookingId, lines));
    // Delivered again under another event id with other prices: the lines keep the first.
    await handle(
      db,
      handlers,
      priced(
        bookingId,
        lines.map((line) => ({ ...line, pricePaise: 9_999 })),
      ),
    );

    expect((await linesOf(bookingId)).map((line) => line.price_paise)).to.deep.equal([2_500, 2_500]);
    expect(await stepsOf(bookingId)).to.include.members(['DiscountQuotaSkipped', 'PricingCalculated']);
  });

  it('takes the price of the first quota decision: a rejection’s without the discount', async () => {
    const { bookingId } = await booked(1);
    const discounted = {
      basePaise: 10_000,
      discountEligible: true,
      eligibility: 'amount' as const,
      discountBasisPoints: 1_200,
      discountPaise: 1_200,
      finalPaise: 8_800,
    };
    await handle(
      db,
      handlers,
      sagaEvent(
        'DiscountQuotaRejected',
        { pricing: discounted, day: '2026-12-01', reason: 'Quota reached.' },
        bookingId,
      ),
    );
    // A later decision (another event id) leaves the price the booking has.
    await handle(
      db,
      handlers,
      sagaEvent('DiscountQuotaReserved', { pricing: discounted, day: '2026-12-01' }, bookingId),
    );

    const booking = await db
      .selectFrom('booking.bookings')
      .select([
        'status',
        'base_paise',
        'discount_paise',
        'final_paise',
        'discount_applied',
        'discount_eligible',
      ])
      .where('id', '=', bookingId)
      .executeTakeFirstOrThrow();
    expect(booking).to.deep.equal({
      status: 'REJECTED',
      base_paise: 10_000,
      discount_paise: 0,
      final_paise: 10_000,
      discount_applied: false,
      discount_eligible: true,
    });
  });
});
