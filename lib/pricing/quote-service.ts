import { QUOTA_REJECTED_REASON } from '../booking/booking-saga.js';
import { bookableServices } from '../catalogue/catalogue-service.js';
import type { PatientGender } from '../catalogue/service-rules.js';
import { istDate, type Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import { basisPointsToPercent } from '../money.js';
import { quotaToday } from '../quota/quota-handlers.js';
import { priceBooking, withoutDiscount, type PricedService } from './pricing-rules.js';

/** What a booking would cost if it were made now: `discount`, `none`, or rejected for the quota. */
export type QuoteOutcome = 'discount' | 'none' | 'quota_reached';

export interface Quote {
  services: PricedService[];
  pricing: {
    basePaise: number;
    discountEligible: boolean;
    eligibility: 'birthday' | 'amount' | null;
    discountPercent: number;
    discountPaise: number;
    finalPaise: number;
  };
  quota: { date: string; used: number; limit: number };
  outcome: QuoteOutcome;
  /** The reason the booking would be rejected, worded as the saga words it. */
  reason: string | null;
}

/** The eligible discount is expected only while the day's quota has room; otherwise the saga rejects. */
export function quoteOutcome(
  discountEligible: boolean,
  quota: { used: number; limit: number },
): QuoteOutcome {
  if (!discountEligible) return 'none';
  return quota.used < quota.limit ? 'discount' : 'quota_reached';
}

/**
 * Prices a booking request as the pricing participant would, with its applied discount percent and
 * today's quota (IST), reading only: nothing is reserved or written.
 */
export async function quoteBooking(
  db: Db,
  clock: Clock,
  request: { patient: { gender: PatientGender; dateOfBirth: string }; serviceIds: string[] },
): Promise<Quote> {
  const serviceIds = [...new Set(request.serviceIds)];
  const [services, settings, quota] = await Promise.all([
    bookableServices(db, serviceIds, request.patient.gender),
    db.selectFrom('pricing.settings').select('discount_basis_points').executeTakeFirstOrThrow(),
    quotaToday(db, clock),
  ]);
  const priced = services.map(({ id, name, pricePaise }) => ({ id, name, pricePaise }));
  const pricing = priceBooking({
    services: priced,
    patient: request.patient,
    discountBasisPoints: settings.discount_basis_points,
    today: istDate(clock.now()),
  });
  const outcome = quoteOutcome(pricing.discountEligible, quota);
  const shown = outcome === 'discount' ? pricing : withoutDiscount(pricing);
  return {
    services: priced,
    pricing: {
      basePaise: shown.basePaise,
      discountEligible: shown.discountEligible,
      eligibility: shown.eligibility,
      discountPercent: basisPointsToPercent(shown.discountBasisPoints),
      discountPaise: shown.discountPaise,
      finalPaise: shown.finalPaise,
    },
    quota,
    outcome,
    reason: outcome === 'quota_reached' ? QUOTA_REJECTED_REASON : null,
  };
}
