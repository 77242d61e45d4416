import type { PatientGender } from '../catalogue/service-rules.js';
import { isBirthday } from '../clock.js';
import { discountPaise as computeDiscountPaise, sumPaise } from '../money.js';

/** R1 (b): a base price strictly above ₹1,000 is discount-eligible. */
export const DISCOUNT_THRESHOLD_PAISE = 100000;

export type DiscountEligibility = 'birthday' | 'amount' | null;

export interface PricingPatient {
  gender: PatientGender;
  dateOfBirth: string;
}

export interface PricedService {
  id: string;
  name: string;
  pricePaise: number;
}

export interface Pricing {
  basePaise: number;
  discountEligible: boolean;
  eligibility: DiscountEligibility;
  discountBasisPoints: number;
  discountPaise: number;
  finalPaise: number;
}

/** Why a booking is discount-eligible under R1, or null; birthday wins when both hold. */
export function discountEligibility(input: {
  basePaise: number;
  patient: PricingPatient;
  today: string;
}): DiscountEligibility {
  const { basePaise, patient, today } = input;
  if (patient.gender === 'female' && isBirthday(patient.dateOfBirth, today)) return 'birthday';
  if (basePaise > DISCOUNT_THRESHOLD_PAISE) return 'amount';
  return null;
}

/**
 * Prices a booking as if an eligible discount were granted; the quota step decides whether it
 * really is (see withoutDiscount).
 */
export function priceBooking(input: {
  services: readonly PricedService[];
  patient: PricingPatient;
  discountBasisPoints: number;
  today: string;
}): Pricing {
  const { services, patient, discountBasisPoints, today } = input;
  if (services.length === 0) throw new RangeError('a booking needs at least one service');
  const basePaise = sumPaise(services.map((service) => service.pricePaise));
  const eligibility = discountEligibility({ basePaise, patient, today });
  // Computed even when not eligible so a bad percent fails here, not later.
  const eligibleDiscountPaise = computeDiscountPaise(basePaise, discountBasisPoints);
  const discountPaise = eligibility === null ? 0 : eligibleDiscountPaise;
  return {
    basePaise,
    discountEligible: eligibility !== null,
    eligibility,
    discountBasisPoints,
    discountPaise,
    finalPaise: basePaise - discountPaise,
  };
}

/** The same pricing with no discount taken (the quota was not reserved). */
export function withoutDiscount(pricing: Pricing): Pricing {
  return { ...pricing, discountPaise: 0, finalPaise: pricing.basePaise };
}
