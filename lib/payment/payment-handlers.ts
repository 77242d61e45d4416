import { sql } from 'kysely';
import type { Handler, Handlers } from '../bus/consumer.js';
import type { Trx } from '../db/database.js';
import type { PaymentMode, PaymentsTable } from '../db/schema.js';
import { logger } from '../logger.js';
import {
  gatewayReference,
  simulateCharge,
  simulateRefund,
  type ChargeResult,
  type GatewaySettings,
} from './gateway.js';

export interface PaymentDefaults {
  mode: PaymentMode;
  failureRate: number;
  delayMs: number;
}

/** Inserts the booking's payment row if absent and locks it: every path of one booking is serialised. */
async function lockPayment(trx: Trx, bookingId: string, initial: PaymentsTable['status']) {
  await trx
    .insertInto('payment.payments')
    .values({
      booking_id: bookingId,
      status: initial,
      amount_paise: null,
      gateway_reference: null,
      failure_reason: null,
    })
    .onConflict((conflict) => conflict.doNothing())
    .execute();
  return trx
    .selectFrom('payment.payments')
    .selectAll()
    .where('booking_id', '=', bookingId)
    .forUpdate()
    .executeTakeFirstOrThrow();
}

async function gatewaySettings(trx: Trx, defaults: PaymentDefaults): Promise<GatewaySettings> {
  const settings = await trx
    .selectFrom('payment.settings')
    .select(['mode', 'failure_rate'])
    .executeTakeFirstOrThrow();
  return {
    mode: settings.mode ?? defaults.mode,
    failureRate: settings.failure_rate ?? defaults.failureRate,
    delayMs: defaults.delayMs,
  };
}

/**
 * Payment: charges once per booking after the quota step (with or without a discount). The row lock
 * is held across the simulated gateway call, so a compensation for the same booking waits and then
 * refunds what was charged; a compensation that comes first cancels the charge before it happens.
 */
export function paymentHandlers(options: { defaults: PaymentDefaults; random?: () => number }): Handlers {
  const charge: Handler<'DiscountQuotaReserved' | 'DiscountQuotaSkipped'> = async (event, { trx, emit }) => {
    const bookingId = event.bookingId as string;
    const payment = await lockPayment(trx, bookingId, 'PENDING');
    if (payment.status !== 'PENDING') return;
    const amountPaise = event.data.pricing.finalPaise;
    const result: ChargeResult = await simulateCharge(
      await gatewaySettings(trx, options.defaults),
      options.random,
    );
    await trx
      .updateTable('payment.payments')
      .set({
        status: result.ok ? 'COMPLETED' : 'FAILED',
        amount_paise: amountPaise,
        gateway_reference: result.ok ? result.reference : null,
        failure_reason: result.ok ? null : result.reason,
        updated_at: sql<Date>`now()`,
      })
      .where('booking_id', '=', bookingId)
      .execute();
    if (result.ok) {
      emit('PaymentCompleted', { amountPaise, gatewayReference: result.reference });
      logger.info('payment completed', { amountPaise });
    } else {
      emit('PaymentFailed', { amountPaise, reason: result.reason });
      logger.info('payment failed', { amountPaise, reason: result.reason });
    }
  };

  return {
    DiscountQuotaReserved: charge,
    DiscountQuotaSkipped: charge,
    CompensationTriggered: async (event, { trx, emit }) => {
      const bookingId = event.bookingId as string;
      const payment = await lockPayment(trx, bookingId, 'CANCELLED');
      if (payment.status !== 'COMPLETED') return;
      // Money taken for a booking that failed is never kept.
      await trx
        .updateTable('payment.payments')
        .set({ status: 'REFUNDED', updated_at: sql<Date>`now()` })
        .where('booking_id', '=', bookingId)
        .execute();
      emit('PaymentRefunded', {
        amountPaise: payment.amount_paise ?? 0,
        gatewayReference: gatewayReference('rfnd'),
        reason: event.data.reason,
      });
      logger.warn('payment refunded', { amountPaise: payment.amount_paise, cause: event.data.cause });
    },
    // A cancelled booking is refunded in full, once (the gateway's idempotency key is the booking's).
    CancellationRequested: async (event, { trx, emit }) => {
      const bookingId = event.bookingId as string;
      const payment = await lockPayment(trx, bookingId, 'CANCELLED');
      if (payment.status !== 'COMPLETED') return;
      const amountPaise = payment.amount_paise ?? 0;
      const refund = await simulateRefund(options.defaults, {
        idempotencyKey: `refund:${bookingId}`,
        amountPaise,
      });
      await trx
        .updateTable('payment.payments')
        .set({ status: 'REFUNDED', updated_at: sql<Date>`now()` })
        .where('booking_id', '=', bookingId)
        .execute();
      emit('PaymentRefunded', {
        amountPaise,
        gatewayReference: refund.reference,
        reason: event.data.reason ?? 'Booking cancelled.',
      });
      logger.info('payment refunded for a cancellation', { amountPaise });
    },
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
