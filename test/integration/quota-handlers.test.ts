import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { istDate, manualClock } from '../../lib/clock.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { priceBooking } from '../../lib/pricing/pricing-rules.js';
import { quotaHandlers } from '../../lib/quota/quota-handlers.js';
import { handle, sagaEvent } from '../support/handlers.js';

/** Each test uses its own far-away IST day, so tests never share a day's count. */
let dayCounter = 0;
function uniqueDay(): { date: string; lastMinute: string; nextDayFirstMinute: string } {
  const day = new Date(Date.UTC(2031, 0, 1 + dayCounter++ * 3 + Math.floor(Math.random() * 1000) * 10));
  const date = day.toISOString().slice(0, 10);
  // 23:59 IST is 18:29 UTC; 00:01 IST the next day is 18:31 UTC.
  return { date, lastMinute: `${date}T18:29:00Z`, nextDayFirstMinute: `${date}T18:31:00Z` };
}

/** A priced booking: an MRI (₹6,500, discount-eligible) or a blood count (₹350, not eligible). */
function priced(service: 'MRI' | 'CBC', today: string, bookingId?: string) {
  const services = [{ id: randomUUID(), name: service, pricePaise: service === 'MRI' ? 650000 : 35000 }];
  const pricing = priceBooking({
    services,
    patient: { gender: 'male', dateOfBirth: '1980-01-01' },
    discountBasisPoints: 1200,
    today,
  });
  return sagaEvent('PricingCalculated', { services, pricing, today }, bookingId);
}

describe('discount-quota participant', () => {
  let db: Db;

  let original: { daily_limit: number; version: number };

  before(async () => {
    db = createDb(process.env.DATABASE_URL as string, 20);
    original = await db
      .selectFrom('quota.settings')
      .select(['daily_limit', 'version'])
      .executeTakeFirstOrThrow();
    await db.updateTable('quota.settings').set({ daily_limit: 10 }).execute();
  });

  after(async () => {
    // Later suites' config versions must still apply.
    await db.updateTable('quota.settings').set(original).execute();
    await db.destroy();
  });

  const used = async (day: string) =>
    (await db.selectFrom('quota.usage').select('used').where('day', '=', day).executeTakeFirst())?.used ?? 0;

  it('never reserves more than the limit, however many ask at once', async () => {
    const { lastMinute, date } = uniqueDay();
    const handlers = quotaHandlers({ clock: manualClock(lastMinute) });
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, () => handle(db, handlers, priced('MRI', date))),
    );
    const types = outcomes.map(([event]) => event?.type);
    expect(types.filter((type) => type === 'DiscountQuotaReserved')).to.have.length(10);
    expect(types.filter((type) => type === 'DiscountQuotaRejected')).to.have.length(20);
    expect(await used(date)).to.equal(10);
  });

  it('skips a booking that is not eligible without touching the count', async () => {
    const { lastMinute, date } = uniqueDay();
    const [event] = await handle(db, quotaHandlers({ clock: manualClock(lastMinute) }), priced('CBC', date));
    expect(event?.type).to.equal('DiscountQuotaSkipped');
    expect(await used(date)).to.equal(0);
  });

  it('releases the slot on the day it was taken, once, even when compensated after midnight', async () => {
    const { lastMinute, nextDayFirstMinute, date } = uniqueDay();
    const clock = manualClock(lastMinute);
    const handlers = quotaHandlers({ clock });
    const bookingId = randomUUID();
    const [reserved] = await handle(db, handlers, priced('MRI', date, bookingId));
    expect(reserved?.type).to.equal('DiscountQuotaReserved');
    expect(await used(date)).to.equal(1);

    clock.set(nextDayFirstMinute);
    const nextDay = istDate(new Date(nextDayFirstMinute));
    const trigger = () =>
      sagaEvent('CompensationTriggered', { reason: 'Payment failed', cause: 'payment_failed' }, bookingId);
    const [releasedEvent] = await handle(db, handlers, trigger());
    expect(releasedEvent?.type).to.equal('DiscountQuotaReleased');
    expect(releasedEvent?.data).to.deep.equal({ day: date });
    // A second compensation (another event id, e.g. the deadline) releases nothing more.
    expect(await handle(db, handlers, trigger())).to.deep.equal([]);
    expect(await used(date)).to.equal(0);
    expect(await used(nextDay)).to.equal(0);
  });

  it('gives a cancelled booking’s slot back to the day it was taken, once, not to the day of cancelling', async () => {
    const { lastMinute, nextDayFirstMinute, date } = uniqueDay();
    const clock = manualClock(lastMinute);
    const handlers = quotaHandlers({ clock });
    const cancelledId = randomUUID();
    await handle(db, handlers, priced('MRI', date, cancelledId));
    clock.set(nextDayFirstMinute);
    const nextDay = istDate(new Date(nextDayFirstMinute));
    await handle(db, handlers, priced('MRI', nextDay));
    expect([await used(date), await used(nextDay)]).to.deep.equal([1, 1]);

    const cancel = () =>
      sagaEvent(
        'CancellationRequested',
        { reference: 'MC-7K2Q-9XD4', reason: null, requestedBy: 'patient', actor: 'p@example.com' },
        cancelledId,
      );
    const [released] = await handle(db, handlers, cancel());
    expect(released?.type).to.equal('DiscountQuotaReleased');
    expect(released?.data).to.deep.equal({ day: date });
    expect(await handle(db, handlers, cancel())).to.deep.equal([]);
    expect([await used(date), await used(nextDay)]).to.deep.equal([0, 1]);

    // A booking that held no discount has nothing to give back.
    const undiscounted = randomUUID();
    await handle(db, handlers, priced('CBC', nextDay, undiscounted));
    expect(
      await handle(db, handlers, { ...cancel(), bookingId: undiscounted } as ReturnType<typeof cancel>),
    ).to.deep.equal([]);
  });

  it('takes nothing for a booking compensated before it was priced', async () => {
    const { lastMinute, date } = uniqueDay();
    const handlers = quotaHandlers({ clock: manualClock(lastMinute) });
    const bookingId = randomUUID();
    expect(
      await handle(
        db,
        handlers,
        sagaEvent('CompensationTriggered', { reason: 'deadline', cause: 'deadline' }, bookingId),
      ),
    ).to.deep.equal([]);
    expect(await handle(db, handlers, priced('MRI', date, bookingId))).to.deep.equal([]);
    expect(await used(date)).to.equal(0);
  });

  it('skips nothing twice: a booking not eligible, compensated before it was priced, or priced again', async () => {
    const { lastMinute, date } = uniqueDay();
    const handlers = quotaHandlers({ clock: manualClock(lastMinute) });
    const compensated = randomUUID();
    await handle(
      db,
      handlers,
      sagaEvent('CompensationTriggered', { reason: 'deadline', cause: 'deadline' }, compensated),
    );
    expect(await handle(db, handlers, priced('CBC', date, compensated))).to.deep.equal([]);
    const mark = await db
      .selectFrom('quota.reservations')
      .select('status')
      .where('booking_id', '=', compensated)
      .executeTakeFirstOrThrow();
    expect(mark.status).to.equal('cancelled');

    const again = randomUUID();
    expect((await handle(db, handlers, priced('CBC', date, again))).map((e) => e.type)).to.deep.equal([
      'DiscountQuotaSkipped',
    ]);
    expect(await handle(db, handlers, priced('CBC', date, again))).to.deep.equal([]);
  });

  it('applies a newer quota limit and ignores an older one arriving late', async () => {
    const handlers = quotaHandlers({ clock: manualClock(uniqueDay().lastMinute) });
    const current = await db.selectFrom('quota.settings').selectAll().executeTakeFirstOrThrow();
    const change = (configVersion: number, dailyDiscountQuota: number) =>
      sagaEvent(
        'ConfigChanged',
        {
          configVersion,
          discountBasisPoints: 1200,
          dailyDiscountQuota,
          paymentSimulationMode: 'success',
          paymentFailureRate: 0.2,
          actor: 'admin@example.com',
        },
        null,
      );
    await handle(db, handlers, change(current.version + 2, 7));
    await handle(db, handlers, change(current.version + 1, 99));
    const after = await db.selectFrom('quota.settings').selectAll().executeTakeFirstOrThrow();
    expect(after.daily_limit).to.equal(7);
    expect(after.version).to.equal(current.version + 2);
    await db.updateTable('quota.settings').set({ daily_limit: 10, version: current.version }).execute();
  });
});
