import { expect } from 'chai';
import { bookingHandlers } from '../../lib/booking/booking-handlers.js';
import type { Handler, Handlers } from '../../lib/bus/consumer.js';
import { manualClock } from '../../lib/clock.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { formatReceiptNumber } from '../../lib/receipt/receipt-number.js';
import { issueReceipt } from '../../lib/receipt/receipt-repository.js';
import { createService } from '../support/factories.js';
import { handle, sagaEvent } from '../support/handlers.js';
import { confirmedBooking, paymentCompleted, pricedBooking } from '../support/confirmed-booking.js';

describe('receipt numbers', function () {
  this.timeout(60_000);
  let db: Db;
  let service: { id: string; name: string; pricePaise: number };

  before(async () => {
    db = createDb(process.env.DATABASE_URL as string, 10);
    service = await createService(db, { pricePaise: 75_000 });
  });
  after(async () => {
    await db.destroy();
  });

  const receiptOf = (bookingId: string) =>
    db.selectFrom('booking.receipts').selectAll().where('booking_id', '=', bookingId).executeTakeFirst();

  // Each test confirms in a financial year of its own, so other suites of the run share no counter.
  it('numbers 50 concurrent confirmations 1 to 50 without gaps or repeats', async () => {
    const clock = manualClock('2031-06-15T06:00:00Z');
    const handlers = bookingHandlers({ afterMs: 60_000, limit: 1 }, { clock });
    const bookings = await Promise.all(
      Array.from({ length: 50 }, () => pricedBooking(db, handlers, { services: [service] })),
    );
    await Promise.all(bookings.map((booking) => handle(db, handlers, paymentCompleted(booking))));

    const receipts = await db
      .selectFrom('booking.receipts')
      .selectAll()
      .where('financial_year', '=', '2031-32')
      .orderBy('sequence')
      .execute();
    expect(receipts.map((receipt) => receipt.sequence)).to.deep.equal(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    expect(receipts.map((receipt) => receipt.number)).to.include('BOS/2031-32/000050');
    expect(new Set(receipts.map((receipt) => receipt.booking_id))).to.have.length(50);
    for (const receipt of receipts) {
      expect(receipt.amount_paise).to.equal(75_000);
      expect(receipt.issued_on).to.equal('2031-06-15');
    }
  });

  it('gives one receipt per booking when the confirmation is delivered again', async () => {
    const clock = manualClock('2032-05-01T06:00:00Z');
    const handlers = bookingHandlers({ afterMs: 60_000, limit: 1 }, { clock });
    const booking = await confirmedBooking(db, handlers, { services: [service] });
    await handle(db, handlers, paymentCompleted(booking));
    await handle(db, handlers, paymentCompleted(booking));
    const rows = await db
      .selectFrom('booking.receipts')
      .selectAll()
      .where('financial_year', '=', '2032-33')
      .execute();
    expect(rows.map((row) => row.number)).to.deep.equal(['BOS/2032-33/000001']);
    expect(rows[0]?.payment_reference).to.equal(booking.gatewayReference);
  });

  it('issued again for a booking that has one, returns its receipt and takes no number', async () => {
    const at = new Date('2037-06-01T06:00:00Z');
    const handlers = bookingHandlers({ afterMs: 60_000, limit: 1 }, { clock: manualClock(at.toISOString()) });
    const first = await confirmedBooking(db, handlers, { services: [service] });
    const again = await db
      .transaction()
      .execute((trx) =>
        issueReceipt(trx, { bookingId: first.id, amountPaise: 1, paymentReference: 'pay_other', at }),
      );
    expect(again).to.equal('BOS/2037-38/000001');
    expect(await receiptOf(first.id)).to.include({
      amount_paise: 75_000,
      payment_reference: first.gatewayReference,
    });

    const next = await confirmedBooking(db, handlers, { services: [service] });
    expect((await receiptOf(next.id))?.number).to.equal('BOS/2037-38/000002');
  });

  it('leaves no gap when a confirming transaction rolls back', async () => {
    const clock = manualClock('2033-07-01T06:00:00Z');
    const handlers = bookingHandlers({ afterMs: 60_000, limit: 1 }, { clock });
    const first = await confirmedBooking(db, handlers, { services: [service] });
    const doomed = await pricedBooking(db, handlers, { services: [service] });
    // The confirmation commits nothing: something later in its transaction fails.
    const confirm = handlers.PaymentCompleted as Handler<'PaymentCompleted'>;
    const failing: Handlers = {
      ...handlers,
      PaymentCompleted: async (event, context) => {
        await confirm(event, context);
        throw new Error('failed after the receipt was numbered');
      },
    };
    let failed = false;
    await handle(db, failing, paymentCompleted(doomed)).catch(() => (failed = true));
    expect(failed).to.equal(true);
    expect(await receiptOf(doomed.id)).to.equal(undefined);

    const next = await confirmedBooking(db, handlers, { services: [service] });
    expect((await receiptOf(first.id))?.number).to.equal('BOS/2033-34/000001');
    expect((await receiptOf(next.id))?.number).to.equal('BOS/2033-34/000002');
    await handle(db, handlers, paymentCompleted(doomed));
    expect((await receiptOf(doomed.id))?.number).to.equal('BOS/2033-34/000003');
  });

  it('starts a new year at 1 April IST: 31 March 23:59 and 1 April 00:00', async () => {
    const clock = manualClock('2035-03-31T18:29:59Z'); // 23:59:59 IST on 31 March
    const handlers = bookingHandlers({ afterMs: 60_000, limit: 1 }, { clock });
    const march = await confirmedBooking(db, handlers, { services: [service] });
    clock.set('2035-03-31T18:30:00Z'); // 00:00 IST on 1 April
    const april = await confirmedBooking(db, handlers, { services: [service] });
    const secondApril = await confirmedBooking(db, handlers, { services: [service] });

    expect(await receiptOf(march.id)).to.include({ number: 'BOS/2034-35/000001', issued_on: '2035-03-31' });
    expect(await receiptOf(april.id)).to.include({ number: 'BOS/2035-36/000001', issued_on: '2035-04-01' });
    expect((await receiptOf(secondApril.id))?.number).to.equal('BOS/2035-36/000002');
  });

  it('writes every digit of a sequence past 999999, as formatReceiptNumber does', async () => {
    await db
      .insertInto('booking.receipt_counters')
      .values({ financial_year: '2038-39', last_number: 999_998 })
      .execute();
    const handlers = bookingHandlers(
      { afterMs: 60_000, limit: 1 },
      { clock: manualClock('2038-09-01T06:00:00Z') },
    );
    const last = await confirmedBooking(db, handlers, { services: [service] });
    const past = await confirmedBooking(db, handlers, { services: [service] });

    expect(await receiptOf(last.id)).to.include({ number: 'BOS/2038-39/999999', sequence: 999_999 });
    expect(await receiptOf(past.id)).to.include({
      number: formatReceiptNumber('2038-39', 1_000_000),
      sequence: 1_000_000,
    });
  });

  it('gives no receipt to a booking that failed', async () => {
    const handlers = bookingHandlers(
      { afterMs: 60_000, limit: 1 },
      { clock: manualClock('2036-08-01T06:00:00Z') },
    );
    const booking = await pricedBooking(db, handlers, { services: [service] });
    await handle(db, handlers, {
      ...sagaEvent('PaymentFailed', { amountPaise: booking.finalPaise, reason: 'declined' }, booking.id),
      correlationId: booking.correlationId,
    });
    await handle(db, handlers, paymentCompleted(booking)); // a late success is refunded, not receipted
    expect(await receiptOf(booking.id)).to.equal(undefined);
  });
});
