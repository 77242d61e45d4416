import { sql } from 'kysely';
import { twoStep, type Handlers } from '../bus/consumer.js';
import type { Db, Trx } from '../db/database.js';
import type { PaymentMode, PaymentsTable } from '../db/schema.js';
import { logger } from '../logger.js';
import { SimulatedGateway, type GatewayCharge } from './gateway.js';

export interface PaymentDefaults {
  mode: PaymentMode;
  failureRate: number;
  delayMs: number;
}

const newPayment = (bookingId: string, status: PaymentsTable['status']) => ({
  booking_id: bookingId,
  status,
  amount_paise: null,
  gateway_reference: null,
  failure_reason: null,
});

/** Locks the booking's payment row, inserted first if absent: every path of one booking is serialised. */
async function lockPayment(trx: Trx, bookingId: string, initial: PaymentsTable['status']) {
  const lock = () =>
    trx.selectFrom('payment.payments').selectAll().where('booking_id', '=', bookingId).forUpdate();
  const existing = await lock().executeTakeFirst();
  if (existing) return existing;
  await trx
    .insertInto('payment.payments')
    .values(newPayment(bookingId, initial))
    .onConflict((conflict) => conflict.doNothing())
    .execute();
  return lock().executeTakeFirstOrThrow();
}

/**
 * The intent to charge: the payment row (`PENDING` unless it exists) and the gateway settings, in one
 * statement on the common path. Returns the payment's status and the settings.
 */
async function recordIntent(db: Db, bookingId: string, defaults: PaymentDefaults) {
  const row = await db
    .with('intent', (qb) =>
      qb
        .insertInto('payment.payments')
        .values(newPayment(bookingId, 'PENDING'))
        .onConflict((conflict) => conflict.doNothing())
        .returning('status'),
    )
    .selectFrom('payment.settings')
    .select((eb) => [
      'mode',
      'failure_rate',
      eb.selectFrom('intent').select('status').as('created'),
      eb.selectFrom('payment.payments').select('status').where('booking_id', '=', bookingId).as('existing'),
    ])
    .executeTakeFirstOrThrow();
  const settings = {
    mode: row.mode ?? defaults.mode,
    failureRate: row.failure_rate ?? defaults.failureRate,
    delayMs: defaults.delayMs,
  };
  const status = row.created ?? row.existing;
  if (status) return { status, settings };
  // Inserted by a concurrent delivery that committed after this statement's snapshot: read it now.
  const payment = await db.transaction().execute((trx) => lockPayment(trx, bookingId, 'PENDING'));
  return { status: payment.status, settings };
}

/**
 * Payment: charges once per booking after the quota step, never inside a transaction. First the
 * intent commits (`PENDING`; the booking id is the gateway's idempotency key), then the gateway is
 * called, then the outcome commits with its event. The gateway answers a repeated key with its first
 * answer, so a retry after a crash, a rollback or a lost answer never charges twice. A compensation
 * voids the key at the gateway (a charge not yet made is refused) or refunds what got charged.
 */
export function paymentHandlers(options: {
  defaults: PaymentDefaults;
  /** Decides `random` mode's outcomes (tests). */
  random?: () => number;
  /** The gateway over a pool (a test can wrap it). */
  gateway?: (db: Db) => SimulatedGateway;
}): Handlers {
  const gatewayOf = options.gateway ?? ((db: Db) => new SimulatedGateway(db, options.random));
  const charge = twoStep<'DiscountQuotaReserved' | 'DiscountQuotaSkipped', GatewayCharge | null>(
    async (event, db) => {
      const bookingId = event.bookingId as string;
      const intent = await recordIntent(db, bookingId, options.defaults);
      if (intent.status !== 'PENDING') return null;
      return gatewayOf(db).charge(bookingId, event.data.pricing.finalPaise, intent.settings);
    },
    async (event, { trx, emit }, answer) => {
      const bookingId = event.bookingId as string;
      // Settled before: the gateway was not called.
      if (!answer) return;
      const { amountPaise, reference } = answer;
      if (answer.status === 'succeeded') {
        const outcome = {
          status: 'COMPLETED' as const,
          amount_paise: amountPaise,
          gateway_reference: reference,
        };
        if (!(await settleCharge(trx, bookingId, outcome))) return;
        emit('PaymentCompleted', { amountPaise, gatewayReference: reference });
        logger.info('payment completed', { amountPaise });
      } else if (answer.status === 'declined') {
        const reason = answer.declineReason ?? 'declined';
        const outcome = { status: 'FAILED' as const, amount_paise: amountPaise, failure_reason: reason };
        if (!(await settleCharge(trx, bookingId, outcome))) return;
        emit('PaymentFailed', { amountPaise, reason });
        logger.info('payment failed', { amountPaise, reason });
      }
      // 'cancelled' or 'refunded': the compensation that did it records it.
    },
  );

  const compensate = twoStep<'CompensationTriggered', GatewayCharge | null>(
    async (event, db) => {
      const bookingId = event.bookingId as string;
      const payment = await db
        .selectFrom('payment.payments')
        .select('status')
        .where('booking_id', '=', bookingId)
        .executeTakeFirst();
      const gateway = gatewayOf(db);
      if (!payment || payment.status === 'PENDING') {
        // Money taken for a booking that failed is never kept: a charge that got in first is refunded.
        const voided = await gateway.cancel(bookingId);
        return voided.status === 'succeeded' ? gateway.refund(bookingId) : voided;
      }
      if (payment.status === 'COMPLETED') return gateway.refund(bookingId);
      return null;
    },
    async (event, { trx, emit }, answer) => {
      const bookingId = event.bookingId as string;
      const payment = await lockPayment(trx, bookingId, 'CANCELLED');
      if (answer?.status === 'refunded' && payment.status !== 'REFUNDED') {
        await settle(trx, bookingId, {
          status: 'REFUNDED',
          amount_paise: answer.amountPaise,
          gateway_reference: answer.reference,
        });
        emit('PaymentRefunded', {
          amountPaise: answer.amountPaise,
          gatewayReference: answer.refundReference ?? answer.reference,
          reason: event.data.reason,
        });
        logger.warn('payment refunded', { amountPaise: answer.amountPaise, cause: event.data.cause });
      } else if (payment.status === 'PENDING') {
        await settle(trx, bookingId, { status: 'CANCELLED' });
      }
    },
  );

  // A cancelled booking is refunded in full, once: the gateway answers a repeated refund with the first.
  const refundCancelled = twoStep<'CancellationRequested', GatewayCharge | null>(
    async (event, db) => {
      const payment = await db
        .selectFrom('payment.payments')
        .select('status')
        .where('booking_id', '=', event.bookingId as string)
        .executeTakeFirst();
      return payment?.status === 'COMPLETED' ? gatewayOf(db).refund(event.bookingId as string) : null;
    },
    async (event, { trx, emit }, answer) => {
      const bookingId = event.bookingId as string;
      const payment = await lockPayment(trx, bookingId, 'CANCELLED');
      if (answer?.status !== 'refunded' || payment.status === 'REFUNDED') return;
      await settle(trx, bookingId, { status: 'REFUNDED' });
      emit('PaymentRefunded', {
        amountPaise: answer.amountPaise,
        gatewayReference: answer.refundReference ?? answer.reference,
        reason: event.data.reason ?? 'Booking cancelled.',
      });
      logger.info('payment refunded for a cancellation', { amountPaise: answer.amountPaise });
    },
  );

  return {
    DiscountQuotaReserved: charge,
    DiscountQuotaSkipped: charge,
    CompensationTriggered: compensate,
    CancellationRequested: refundCancelled,
    ConfigChanged: async (event, { trx }) => {
      await trx
        .updateTable('payment.settings')
        .set({
          mode: event.data.paymentSimulationMode,
          failure_rate: event.data.paymentFailureRate,
          version: event.data.configVersion,
        })
        .where('version', '<', event.data.configVersion)
        .execute();
    },
  };
}

type Settlement = Partial<Pick<PaymentsTable, 'amount_paise' | 'gateway_reference' | 'failure_reason'>> & {
  status: PaymentsTable['status'];
};

/**
 * Records a charge's outcome on its payment if still `PENDING` (inserted with it if absent), in one
 * statement under the row lock: false when it was settled meanwhile (a compensation voided or refunded
 * it) or before, which leaves it as it is.
 */
async function settleCharge(trx: Trx, bookingId: string, outcome: Settlement): Promise<boolean> {
  const settled = await trx
    .insertInto('payment.payments')
    .values({ ...newPayment(bookingId, outcome.status), ...outcome })
    .onConflict((conflict) =>
      conflict
        .column('booking_id')
        .doUpdateSet({ ...outcome, updated_at: sql<Date>`now()` })
        .where('payment.payments.status', '=', 'PENDING'),
    )
    .returning('booking_id')
    .executeTakeFirst();
  return settled !== undefined;
}

async function settle(trx: Trx, bookingId: string, change: Settlement): Promise<void> {
  await trx
    .updateTable('payment.payments')
    .set({ ...change, updated_at: sql<Date>`now()` })
    .where('booking_id', '=', bookingId)
    .execute();
}
