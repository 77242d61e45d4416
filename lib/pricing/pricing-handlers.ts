import type { Handler, Handlers } from '../bus/consumer.js';
import { istDate, type Clock } from '../clock.js';
import { logger } from '../logger.js';
import { priceBooking } from './pricing-rules.js';

/**
 * Pricing: prices a booking from the live catalogue and the discount percent it holds, once its
 * appointment is settled (a place held, or a walk-in).
 */
export function pricingHandlers({ clock }: { clock: Clock }): Handlers {
  const price: Handler<'SlotReserved' | 'SlotSkipped'> = async (event, { trx, emit }) => {
    // A reschedule's new place: the booking was priced when it was made, and its price stays.
    if (!('request' in event.data)) return;
    const { serviceIds, patient } = event.data.request;
    // The services' prices and the discount percent in one read.
    const rows = await trx
      .selectFrom('catalogue.services')
      .select(['id', 'name', 'price_paise'])
      .select((eb) =>
        eb.selectFrom('pricing.settings').select('discount_basis_points').as('discount_basis_points'),
      )
      .where('id', 'in', serviceIds)
      .execute();
    const byId = new Map(rows.map((row) => [row.id, row]));
    const services = serviceIds.map((id) => {
      const row = byId.get(id);
      if (!row) throw new Error(`service ${id} is not in the catalogue`);
      return { id, name: row.name, pricePaise: row.price_paise };
    });
    const discountBasisPoints = rows[0]?.discount_basis_points;
    if (discountBasisPoints === undefined || discountBasisPoints === null)
      throw new Error('the pricing settings are missing');
    const today = istDate(clock.now());
    const pricing = priceBooking({
      services,
      patient,
      discountBasisPoints,
      today,
    });
    emit('PricingCalculated', { services, pricing, today });
    logger.info('booking priced', { basePaise: pricing.basePaise, eligibility: pricing.eligibility });
  };
  return {
    SlotReserved: price,
    SlotSkipped: price,
    ConfigChanged: async (event, { trx }) => {
      // Versions make the change order-proof: an older change arriving late is ignored.
      await trx
        .updateTable('pricing.settings')
        .set({ discount_basis_points: event.data.discountBasisPoints, version: event.data.configVersion })
        .where('version', '<', event.data.configVersion)
        .execute();
    },
  };
}
