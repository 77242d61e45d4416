import { expect } from 'chai';
import type { PatientGender } from '../../lib/catalogue/service-rules.js';
import { fixedClock, istToday } from '../../lib/clock.js';
import {
  DISCOUNT_THRESHOLD_PAISE,
  discountEligibility,
  priceBooking,
  withoutDiscount,
  type PricedService,
  type PricingPatient,
} from '../../lib/pricing/pricing-rules.js';

const TODAY = '2026-03-01';

function buildPatient(overrides: Partial<PricingPatient> = {}): PricingPatient {
  return { gender: 'female', dateOfBirth: '1990-07-15', ...overrides };
}

let serviceSeq = 0;
function buildService(pricePaise: number): PricedService {
  serviceSeq += 1;
  return { id: `svc-${serviceSeq}`, name: `Service ${serviceSeq}`, pricePaise };
}

describe('pricing rules (R1)', () => {
  it('sets the threshold at ₹1,000', () => {
    expect(DISCOUNT_THRESHOLD_PAISE).to.equal(100000);
  });

  describe('discountEligibility', () => {
    const notBirthday = buildPatient({ dateOfBirth: '1990-07-15' });

    it('is not eligible at exactly ₹1,000', () => {
      expect(discountEligibility({ basePaise: 100000, patient: notBirthday, today: TODAY })).to.equal(null);
    });

    it('is eligible by amount one paisa above ₹1,000', () => {
      expect(discountEligibility({ basePaise: 100001, patient: notBirthday, today: TODAY })).to.equal(
        'amount',
      );
    });

    it('is eligible for a woman on her birthday whatever the amount', () => {
      const patient = buildPatient({ gender: 'female', dateOfBirth: '1990-03-01' });
      expect(discountEligibility({ basePaise: 100, patient, today: TODAY })).to.equal('birthday');
      expect(discountEligibility({ basePaise: 500000, patient, today: TODAY })).to.equal('birthday');
    });

    for (const gender of ['male', 'other'] as const satisfies readonly PatientGender[]) {
      it(`is not eligible by birthday for gender '${gender}'`, () => {
        const patient = buildPatient({ gender, dateOfBirth: '1990-03-01' });
        expect(discountEligibility({ basePaise: 100000, patient, today: TODAY })).to.equal(null);
      });

      it(`is eligible by amount for gender '${gender}' on their birthday above ₹1,000`, () => {
        const patient = buildPatient({ gender, dateOfBirth: '1990-03-01' });
        expect(discountEligibility({ basePaise: 100001, patient, today: TODAY })).to.equal('amount');
      });
    }

    it('uses the IST date: 18:29:59Z is still 1 March, 18:30:00Z is 2 March', () => {
      const before = istToday(fixedClock('2026-03-01T18:29:59Z'));
      const after = istToday(fixedClock('2026-03-01T18:30:00Z'));
      const bornMarch1 = buildPatient({ gender: 'female', dateOfBirth: '1990-03-01' });
      const bornMarch2 = buildPatient({ gender: 'female', dateOfBirth: '1990-03-02' });
      const base = { basePaise: 50000 };
      expect(discountEligibility({ ...base, patient: bornMarch1, today: before })).to.equal('birthday');
      expect(discountEligibility({ ...base, patient: bornMarch2, today: before })).to.equal(null);
      expect(discountEligibility({ ...base, patient: bornMarch1, today: after })).to.equal(null);
      expect(discountEligibility({ ...base, patient: bornMarch2, today: after })).to.equal('birthday');
    });

    it('keeps a 29 February birthday on 28 February in non-leap years only', () => {
      const patient = buildPatient({ gender: 'female', dateOfBirth: '2000-02-29' });
      const at = (today: string) => discountEligibility({ basePaise: 50000, patient, today });
      expect(at('2027-02-28')).to.equal('birthday');
      expect(at('2028-02-28')).to.equal(null);
      expect(at('2028-02-29')).to.equal('birthday');
      expect(at('2027-03-01')).to.equal(null);
    });
  });

  describe('priceBooking', () => {
    it('sums the services and applies the discount when eligible by amount', () => {
      const pricing = priceBooking({
        services: [buildService(60000), buildService(40001)],
        patient: buildPatient({ gender: 'male' }),
        discountBasisPoints: 1200,
        today: TODAY,
      });
      expect(pricing).to.deep.equal({
        basePaise: 100001,
        discountEligible: true,
        eligibility: 'amount',
        discountBasisPoints: 1200,
        discountPaise: 12000, // 12000.12
        finalPaise: 88001,
      });
    });

    it('gives no discount at exactly ₹1,000', () => {
      const pricing = priceBooking({
        services: [buildService(100000)],
        patient: buildPatient({ gender: 'female' }),
        discountBasisPoints: 1200,
        today: TODAY,
      });
      expect(pricing).to.deep.equal({
        basePaise: 100000,
        discountEligible: false,
        eligibility: null,
        discountBasisPoints: 1200,
        discountPaise: 0,
        finalPaise: 100000,
      });
    });

    it('discounts a small booking on a woman’s birthday, rounding half up', () => {
      const pricing = priceBooking({
        services: [buildService(12345)],
        patient: buildPatient({ gender: 'female', dateOfBirth: '1985-03-01' }),
        discountBasisPoints: 1200,
        today: TODAY,
      });
      expect(pricing.eligibility).to.equal('birthday');
      expect(pricing.discountPaise).to.equal(1481); // 1481.4
      expect(pricing.finalPaise).to.equal(10864);
    });

    it('rounds an exact half up in the final price', () => {
      const pricing = priceBooking({
        services: [buildService(1250)],
        patient: buildPatient({ gender: 'female', dateOfBirth: '1985-03-01' }),
        discountBasisPoints: 100,
        today: TODAY,
      });
      expect(pricing.discountPaise).to.equal(13); // 12.5
      expect(pricing.finalPaise).to.equal(1237);
    });

    it('handles 0% and 100%', () => {
      const patient = buildPatient({ gender: 'other' });
      const services = [buildService(150000)];
      const zero = priceBooking({ services, patient, discountBasisPoints: 0, today: TODAY });
      expect(zero).to.include({ discountEligible: true, discountPaise: 0, finalPaise: 150000 });
      const full = priceBooking({ services, patient, discountBasisPoints: 10000, today: TODAY });
      expect(full).to.include({ discountEligible: true, discountPaise: 150000, finalPaise: 0 });
    });

    it('does not discount a man on his birthday below the threshold', () => {
      const pricing = priceBooking({
        services: [buildService(50000)],
        patient: buildPatient({ gender: 'male', dateOfBirth: '1985-03-01' }),
        discountBasisPoints: 1200,
        today: TODAY,
      });
      expect(pricing).to.include({
        discountEligible: false,
        eligibility: null,
        discountPaise: 0,
        finalPaise: 50000,
      });
    });

    it('refuses an empty booking', () => {
      expect(() =>
        priceBooking({ services: [], patient: buildPatient(), discountBasisPoints: 1200, today: TODAY }),
      ).to.throw(RangeError);
    });

    it('refuses fractional prices and an out-of-range percent', () => {
      const patient = buildPatient();
      expect(() =>
        priceBooking({ services: [buildService(100.5)], patient, discountBasisPoints: 1200, today: TODAY }),
      ).to.throw(RangeError);
      expect(() =>
        priceBooking({ services: [buildService(500)], patient, discountBasisPoints: 10001, today: TODAY }),
      ).to.throw(RangeError);
    });
  });

  describe('withoutDiscount', () => {
    it('drops the discount but keeps the eligibility facts', () => {
      const eligible = priceBooking({
        services: [buildService(200000)],
        patient: buildPatient({ gender: 'male' }),
        discountBasisPoints: 1250,
        today: TODAY,
      });
      expect(eligible.discountPaise).to.equal(25000);
      const plain = withoutDiscount(eligible);
      expect(plain).to.deep.equal({
        basePaise: 200000,
        discountEligible: true,
        eligibility: 'amount',
        discountBasisPoints: 1250,
        discountPaise: 0,
        finalPaise: 200000,
      });
      expect(eligible.discountPaise, 'input left untouched').to.equal(25000);
    });
  });
});
