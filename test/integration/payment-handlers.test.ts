import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import { createDb, type Db } from '../../lib/db/database.js';
import { twoStep, type TwoStepHandler } from '../../lib/bus/consumer.js';
import { SimulatedGateway } from '../../lib/payment/gateway.js';
import { paymentHandlers } from '../../lib/payment/payment-handlers.js';
import { priceBooking } from '../../lib/pricing/pricing-rules.js';
import { handle, sagaEvent } from '../support/handlers.js';
import { waitFor } from '../support/wait.js';

const pricing = priceBooking({
  services: [{ id: randomUUID(), name: 'Ultrasound', pricePaise: 150000 }],
  patient: { gender: 'male', dateOfBirth: '1975-03-03' },
  discountBasisPoints: 1200,
  today: '2026-11-24',
});
const reserved = (bookingId: string) =>
  sagaEvent('DiscountQuotaReserved', { pricing, day: '2026-11-24' }, bookingId);
const compensation = (bookingId: string) =>
  sagaEvent(
    'CompensationTriggered',
    { reason: 'The booking could not be completed in time.', cause: 'deadline' },
    bookingId,
  );

describe('payment participant', () => {
  let db: Db;
  const succeed = paymentHandlers({ defaults: { mode: 'success', failureRate: 0, delayMs: 0 } });

  before(() => {
    db = createDb(process.env.DATABASE_URL as string, 5);
  });
  after(async () => {
    await db.destroy();
  });

  const charges = (key: string) =>
    db.selectFrom('gateway.charges').selectAll().where('idempotency_key', '=', key).execute();
  const payment = (bookingId: string) =>
    db.selectFrom('payment.payments').selectAll().where('booking_id', '=', bookingId).executeTakeFirst();

  it('charges the final price once per booking', async () => {
    const bookingId = randomUUID();
    const [completed] = await handle(db, succeed, reserved(bookingId));
    expect(completed?.type).to.equal('PaymentCompleted');
    expect(completed?.data).to.include({ amountPaise: pricing.finalPaise });
    // The same booking asked again (another event id): no second charge.
    expect(await handle(db, succeed, reserved(bookingId))).to.deep.equal([]);
    expect((await payment(bookingId))?.status).to.equal('COMPLETED');
  });

  it('fails the charge in fail mode and says why', async () => {
    const bookingId = randomUUID();
    const failing = paymentHandlers({ defaults: { mode: 'fail', failureRate: 0, delayMs: 0 } });
    const [failed] = await handle(db, failing, reserved(bookingId));
    expect(failed?.type).to.equal('PaymentFailed');
    expect(failed?.data).to.include({ amountPaise: pricing.finalPaise });
    expect((await payment(bookingId))?.status).to.equal('FAILED');
  });

  it('in random mode fails with the configured rate', async () => {
    const at = (draw: number) =>
      paymentHandlers({ defaults: { mode: 'random', failureRate: 0.3, delayMs: 0 }, random: () => draw });
    expect((await handle(db, at(0.29), reserved(randomUUID())))[0]?.type).to.equal('PaymentFailed');
    expect((await handle(db, at(0.3), reserved(randomUUID())))[0]?.type).to.equal('PaymentCompleted');
  });

  it('refunds a payment completed for a booking that was then compensated, once', async () => {
    const bookingId = randomUUID();
    await handle(db, succeed, reserved(bookingId));
    const [refund] = await handle(db, succeed, compensation(bookingId));
    expect(refund?.type).to.equal('PaymentRefunded');
    expect(refund?.data).to.include({ amountPaise: pricing.finalPaise });
    expect(await handle(db, succeed, compensation(bookingId))).to.deep.equal([]);
    expect((await payment(bookingId))?.status).to.equal('REFUNDED');
  });

  it('never charges a booking whose compensation arrived first', async () => {
    const bookingId = randomUUID();
    expect(await handle(db, succeed, compensation(bookingId))).to.deep.equal([]);
    expect(await handle(db, succeed, reserved(bookingId))).to.deep.equal([]);
    expect((await payment(bookingId))?.status).to.equal('CANCELLED');
  });

  it('a slow gateway holds no connection or row lock, and a compensation meanwhile voids the charge', async () => {
    const bookingId = randomUUID();
    const slow = paymentHandlers({ defaults: { mode: 'success', failureRate: 0, delayMs: 1_500 } });
    const charging = handle(db, slow, reserved(bookingId));
    // The intent is committed before the gateway is called.
    await waitFor(async () => (await payment(bookingId))?.status === 'PENDING');
    const { rows } = await sql<{ open: number }>`
      select count(*)::int as open from pg_stat_activity
      where datname = current_database() and state like 'idle in transaction%'`.execute(db);
    expect(rows[0]?.open, 'transactions open during the gateway call').to.equal(0);
    // The compensation is not held up by the charge in flight: it finishes first and voids the key.
    const compensated = await handle(db, slow, compensation(bookingId));
    expect(compensated).to.deep.equal([]);
    expect((await payment(bookingId))?.status).to.equal('CANCELLED');
    expect(await charging).to.deep.equal([]);
    expect((await payment(bookingId))?.status).to.equal('CANCELLED');
    expect((await charges(bookingId)).map((row) => row.status)).to.deep.equal(['cancelled']);
  });

  it('a charge that landed at the gateway before the compensation voided it is refunded', async () => {
    const bookingId = randomUUID();
    // The gateway charged, but the outcome never committed (the worker died after the call).
    await new SimulatedGateway(db).charge(bookingId, pricing.finalPaise, {
      mode: 'success',
      failureRate: 0,
      delayMs: 0,
    });
    const [refund] = await handle(db, succeed, compensation(bookingId));
    expect(refund?.type).to.equal('PaymentRefunded');
    expect(refund?.data).to.include({ amountPaise: pricing.finalPaise });
    expect((await charges(bookingId)).map((row) => row.status)).to.deep.equal(['refunded']);
  });

  it('a gateway call that succeeded but whose outcome commit failed charges once', async () => {
    const bookingId = randomUUID();
    const handlers = paymentHandlers({
      defaults: { mode: 'random', failureRate: 0.5, delayMs: 0 },
      random: () => 0.9,
    });
    const event = reserved(bookingId);
    const failingCommit = {
      ...handlers,
      DiscountQuotaReserved: twoStep<'DiscountQuotaReserved', unknown>(
        (e, pool) =>
          (handlers.DiscountQuotaReserved as TwoStepHandler<'DiscountQuotaReserved'>).outside(e, pool),
        async () => {
          throw new Error('the outcome commit failed');
        },
      ),
    };
    await handle(db, failingCommit, event).then(
      () => expect.fail('the commit should have failed'),
      (error: Error) => expect(error.message).to.equal('the outcome commit failed'),
    );
    expect((await payment(bookingId))?.status).to.equal('PENDING');
    // The retry asks the gateway again with the same key; this time the draw would decline, but the
    // gateway answers its first charge.
    const retry = paymentHandlers({
      defaults: { mode: 'random', failureRate: 0.5, delayMs: 0 },
      random: () => 0.1,
    });
    const [completed] = await handle(db, retry, event);
    expect(completed?.type).to.equal('PaymentCompleted');
    const rows = await charges(bookingId);
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ status: 'succeeded', amount_paise: pricing.finalPaise });
    expect(completed?.data).to.include({ gatewayReference: rows[0]?.reference });
  });

  it('records the outcome of a charge whose payment row is gone by the commit', async () => {
    const bookingId = randomUUID();
    const charge = succeed.DiscountQuotaReserved as TwoStepHandler<'DiscountQuotaReserved'>;
    const rowGone = {
      ...succeed,
      DiscountQuotaReserved: twoStep<'DiscountQuotaReserved', unknown>(async (e, pool) => {
        const answer = await charge.outside(e, pool);
        await pool.deleteFrom('payment.payments').where('booking_id', '=', bookingId).execute();
        return answer;
      }, charge.inside),
    };
    const [completed] = await handle(db, rowGone, reserved(bookingId));
    expect(completed?.type).to.equal('PaymentCompleted');
    expect(await payment(bookingId)).to.include({
      status: 'COMPLETED',
      amount_paise: pricing.finalPaise,
      gateway_reference: (await charges(bookingId))[0]?.reference,
    });
  });

  it('uses the mode an admin switched to, over the environment default', async () => {
    const settings = await db.selectFrom('payment.settings').selectAll().executeTakeFirstOrThrow();
    const configChanged = sagaEvent(
      'ConfigChanged',
      {
        configVersion: settings.version + 1,
        discountBasisPoints: 1200,
        dailyDiscountQuota: 100,
        paymentSimulationMode: 'fail',
        paymentFailureRate: 0.2,
        actor: 'admin@example.com',
      },
      null,
    );
    await handle(db, succeed, configChanged);
    try {
      expect((await handle(db, succeed, reserved(randomUUID())))[0]?.type).to.equal('PaymentFailed');
    } finally {
      // Later suites' config versions must still apply.
      await db
        .updateTable('payment.settings')
        .set({ mode: settings.mode, failure_rate: settings.failure_rate, version: settings.version })
        .execute();
    }
  });
});
