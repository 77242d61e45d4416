import { sql } from 'kysely';
import type { HandlerContext, Handlers } from '../bus/consumer.js';
import { istDate, type Clock } from '../clock.js';
import type { Db, Trx } from '../db/database.js';
import { logger } from '../logger.js';
import { withoutDiscount } from '../pricing/pricing-rules.js';
import { QUOTA_REJECTED_REASON } from '../booking/booking-saga.js';

/**
 * Reserves one of the day's discount slots with a conditional UPDATE on the day's row: the row lock
 * serialises concurrent reservations, so `used` never passes the limit.
 */
export async function reserveSlot(trx: Trx, day: string): Promise<boolean> {
  await trx
    .insertInto('quota.usage')
    .values({ day, used: 0 })
    .onConflict((conflict) => conflict.doNothing())
    .execute();
  const reserved = await trx
    .updateTable('quota.usage')
    .set({ used: sql<number>`used + 1` })
    .where('day', '=', day)
    .where('used', '<', (eb) => eb.selectFrom('quota.settings').select('daily_limit').where('id', '=', 1))
    .returning('used')
    .executeTakeFirst();
  return reserved !== undefined;
}

/** Releases a held slot once (a released reservation is left alone), back to the day it was taken on. */
async function releaseReservation(
  trx: Trx,
  bookingId: string,
  reservation: { status: string; day: string | null },
  emit: HandlerContext['emit'],
): Promise<void> {
  if (reservation.status !== 'reserved' || !reservation.day) return;
  await trx
    .updateTable('quota.reservations')
    .set({ status: 'released', updated_at: sql<Date>`now()` })
    .where('booking_id', '=', bookingId)
    .execute();
  await trx
    .updateTable('quota.usage')
    .set({ used: sql<number>`used - 1` })
    .where('day', '=', reservation.day)
    .execute();
  emit('DiscountQuotaReleased', { day: reservation.day });
  logger.info('discount slot released', { day: reservation.day });
}

export function quotaHandlers({ clock }: { clock: Clock }): Handlers {
  return {
    PricingCalculated: async (event, { trx, emit }) => {
      const bookingId = event.bookingId as string;
      const { pricing } = event.data;
      if (!pricing.discountEligible) {
        // One statement: the mark, unless the booking has one (compensated before it was priced).
        const skipped = await trx
          .insertInto('quota.reservations')
          .values({ booking_id: bookingId, day: null, status: 'skipped' })
          .onConflict((conflict) => conflict.column('booking_id').doNothing())
          .returning('booking_id')
          .executeTakeFirst();
        if (skipped) emit('DiscountQuotaSkipped', { pricing: withoutDiscount(pricing), day: null });
        return;
      }
      const existing = await trx
        .selectFrom('quota.reservations')
        .select('status')
        .where('booking_id', '=', bookingId)
        .forUpdate()
        .executeTakeFirst();
      // Compensated before it was priced (its deadline passed): take nothing for it.
      if (existing) return;
      const day = istDate(clock.now());
      if (await reserveSlot(trx, day)) {
        await trx
          .insertInto('quota.reservations')
          .values({ booking_id: bookingId, day, status: 'reserved' })
          .execute();
        emit('DiscountQuotaReserved', { pricing, day });
        logger.info('discount slot reserved', { day });
      } else {
        await trx
          .insertInto('quota.reservations')
          .values({ booking_id: bookingId, day, status: 'rejected' })
          .execute();
        emit('DiscountQuotaRejected', { pricing, day, reason: QUOTA_REJECTED_REASON });
        logger.info('daily discount quota reached', { day });
      }
    },
    CompensationTriggered: async (event, { trx, emit }) => {
      const bookingId = event.bookingId as string;
      const reservation = await trx
        .selectFrom('quota.reservations')
        .select(['status', 'day'])
        .where('booking_id', '=', bookingId)
        .forUpdate()
        .executeTakeFirst();
      if (!reservation) {
        // Nothing taken yet: leave a mark so a late PricingCalculated reserves nothing.
        await trx
          .insertInto('quota.reservations')
          .values({ booking_id: bookingId, day: null, status: 'cancelled' })
          .execute();
        return;
      }
      await releaseReservation(trx, bookingId, reservation, emit);
    },
    // A cancelled booking gives its discount slot back, to the day it was taken on.
    CancellationRequested: async (event, { trx, emit }) => {
      const bookingId = event.bookingId as string;
      const reservation = await trx
        .selectFrom('quota.reservations')
        .select(['status', 'day'])
        .where('booking_id', '=', bookingId)
        .forUpdate()
        .executeTakeFirst();
      if (reservation) await releaseReservation(trx, bookingId, reservation, emit);
    },
    ConfigChanged: async (event, { trx }) => {
      await trx
        .updateTable('quota.settings')
        .set({ daily_limit: event.data.dailyDiscountQuota, version: event.data.configVersion })
        .where('version', '<', event.data.configVersion)
        .execute();
    },
  };
}

export async function quotaToday(
  db: Db | Trx,
  clock: Clock,
): Promise<{ date: string; used: number; limit: number }> {
  const date = istDate(clock.now());
  const [usage, settings] = await Promise.all([
    db.selectFrom('quota.usage').select('used').where('day', '=', date).executeTakeFirst(),
    db.selectFrom('quota.settings').select('daily_limit').executeTakeFirstOrThrow(),
  ]);
  return { date, used: usage?.used ?? 0, limit: settings.daily_limit };
}
