import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { appendToOutbox } from '../bus/outbox.js';
import type { Db } from '../db/database.js';
import type { PaymentMode } from '../db/schema.js';
import { createEvent, type Event } from '../events/catalogue.js';
import { basisPointsToPercent, percentToBasisPoints } from '../money.js';

export interface ClinicConfig {
  discountPercent: number;
  dailyDiscountQuota: number;
  paymentSimulationMode: PaymentMode;
  paymentFailureRate: number;
  version: number;
  updatedAt: string;
  updatedBy: string | null;
}

/** Until an admin switches it, the payment simulation runs as the environment says. */
export interface PaymentDefaults {
  mode: PaymentMode;
  failureRate: number;
}

export async function getConfig(db: Db, defaults: PaymentDefaults): Promise<ClinicConfig> {
  const row = await db
    .selectFrom('settings.config')
    .selectAll()
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  return {
    discountPercent: basisPointsToPercent(row.discount_basis_points),
    dailyDiscountQuota: row.daily_discount_quota,
    paymentSimulationMode: row.payment_simulation_mode ?? defaults.mode,
    paymentFailureRate: row.payment_failure_rate ?? defaults.failureRate,
    version: row.version,
    updatedAt: row.updated_at.toISOString(),
    updatedBy: row.updated_by,
  };
}

export type ConfigChange = Partial<
  Pick<
    ClinicConfig,
    'discountPercent' | 'dailyDiscountQuota' | 'paymentSimulationMode' | 'paymentFailureRate'
  >
>;

/**
 * Saves a change, records who made it (before/after) and emits `ConfigChanged` in one transaction;
 * pricing, quota and payment apply it from the event.
 */
export async function updateConfig(
  db: Db,
  actor: string,
  change: ConfigChange,
  defaults: PaymentDefaults,
): Promise<ClinicConfig> {
  await db.transaction().execute(async (trx) => {
    const current = await trx
      .selectFrom('settings.config')
      .selectAll()
      .where('id', '=', 1)
      .forUpdate()
      .executeTakeFirstOrThrow();
    const before = {
      discountPercent: basisPointsToPercent(current.discount_basis_points),
      dailyDiscountQuota: current.daily_discount_quota,
      paymentSimulationMode: current.payment_simulation_mode ?? defaults.mode,
      paymentFailureRate: current.payment_failure_rate ?? defaults.failureRate,
    };
    const after = { ...before, ...change };
    // Only an admin's explicit choice is stored: the environment's default is each payment worker's own.
    const paymentSimulationMode = change.paymentSimulationMode ?? current.payment_simulation_mode;
    const paymentFailureRate = change.paymentFailureRate ?? current.payment_failure_rate;
    const version = current.version + 1;
    await trx
      .updateTable('settings.config')
      .set({
        discount_basis_points: percentToBasisPoints(after.discountPercent),
        daily_discount_quota: after.dailyDiscountQuota,
        payment_simulation_mode: paymentSimulationMode,
        payment_failure_rate: paymentFailureRate,
        version,
        updated_at: sql<Date>`now()`,
        updated_by: actor,
      })
      .where('id', '=', 1)
      .execute();
    const event = createEvent(
      'ConfigChanged',
      {
        configVersion: version,
        discountBasisPoints: percentToBasisPoints(after.discountPercent),
        dailyDiscountQuota: after.dailyDiscountQuota,
        paymentSimulationMode,
        paymentFailureRate,
        actor,
      },
      { bookingId: null, correlationId: randomUUID(), causationId: null },
    );
    await trx
      .insertInto('audit.entries')
      .values({
        at: new Date(event.occurredAt),
        type: 'AdminConfigUpdated',
        actor,
        booking_id: null,
        correlation_id: event.correlationId,
        event_id: null,
        data: JSON.stringify({ before, after }),
      })
      .execute();
    await appendToOutbox(trx, [event]);
  });
  return getConfig(db, defaults);
}

/**
 * The committed configuration as a `ConfigChanged` of its version: a participant applies it at start
 * (by version, like any other), so a trimmed or lost config stream leaves it on the current values.
 */
export async function currentConfigEvent(db: Db): Promise<Event<'ConfigChanged'>> {
  const row = await db
    .selectFrom('settings.config')
    .selectAll()
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  const data = {
    configVersion: row.version,
    discountBasisPoints: row.discount_basis_points,
    dailyDiscountQuota: row.daily_discount_quota,
    paymentSimulationMode: row.payment_simulation_mode,
    paymentFailureRate: row.payment_failure_rate,
    actor: row.updated_by ?? 'system',
  };
  return createEvent('ConfigChanged', data, {
    bookingId: null,
    correlationId: randomUUID(),
    causationId: null,
  });
}
