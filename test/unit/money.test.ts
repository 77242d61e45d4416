import { expect } from 'chai';
import {
  basisPointsToPercent,
  discountPaise,
  formatInr,
  percentToBasisPoints,
  sumPaise,
} from '../../lib/money.js';

describe('money', () => {
  describe('formatInr', () => {
    it('groups rupees the Indian way with two decimals', () => {
      expect(formatInr(12345600)).to.equal('₹1,23,456.00');
    });

    it('formats zero, single paise and crores', () => {
      expect(formatInr(0)).to.equal('₹0.00');
      expect(formatInr(1)).to.equal('₹0.01');
      expect(formatInr(100000)).to.equal('₹1,000.00');
      expect(formatInr(1234567890)).to.equal('₹1,23,45,678.90');
    });

    it('refuses fractional paise', () => {
      expect(() => formatInr(12.5)).to.throw(RangeError);
      expect(() => formatInr(Number.NaN)).to.throw(RangeError);
    });
  });

  describe('percentToBasisPoints', () => {
    it('converts whole, one- and two-decimal percents', () => {
      expect(percentToBasisPoints(12)).to.equal(1200);
      expect(percentToBasisPoints(12.5)).to.equal(1250);
      expect(percentToBasisPoints(0.01)).to.equal(1);
      expect(percentToBasisPoints(0)).to.equal(0);
      expect(percentToBasisPoints(100)).to.equal(10000);
    });

    it('accepts two-decimal values that float noise makes inexact', () => {
      // 12.34 * 100 === 1233.9999999999998, 0.07 * 100 === 7.000000000000001
      expect(percentToBasisPoints(12.34)).to.equal(1234);
      expect(percentToBasisPoints(0.07)).to.equal(7);
      expect(percentToBasisPoints(99.99)).to.equal(9999);
      expect(percentToBasisPoints(33.33)).to.equal(3333);
    });

    for (const bad of [-1, -0.01, 100.01, 101, 12.345, 0.001, Number.NaN, Infinity, -Infinity]) {
      it(`rejects ${bad}`, () => {
        expect(() => percentToBasisPoints(bad)).to.throw(RangeError);
      });
    }

    it('rejects a non-number smuggled past the types', () => {
      expect(() => percentToBasisPoints('12' as unknown as number)).to.throw(RangeError);
    });
  });

  describe('basisPointsToPercent', () => {
    it('is the inverse of percentToBasisPoints', () => {
      expect(basisPointsToPercent(1250)).to.equal(12.5);
      expect(basisPointsToPercent(1234)).to.equal(12.34);
      expect(basisPointsToPercent(1)).to.equal(0.01);
      expect(basisPointsToPercent(0)).to.equal(0);
      expect(basisPointsToPercent(10000)).to.equal(100);
      for (let bp = 0; bp <= 10000; bp += 7) {
        expect(percentToBasisPoints(basisPointsToPercent(bp))).to.equal(bp);
      }
    });

    it('rejects values outside 0..10000 or fractional', () => {
      expect(() => basisPointsToPercent(-1)).to.throw(RangeError);
      expect(() => basisPointsToPercent(10001)).to.throw(RangeError);
      expect(() => basisPointsToPercent(12.5)).to.throw(RangeError);
    });
  });

  describe('discountPaise', () => {
    it('rounds a fraction below one half down (12345 at 12% = 1481.4 → 1481)', () => {
      expect(discountPaise(12345, 1200)).to.equal(1481);
    });

    it('keeps an exact result (12375 at 12% = 1485)', () => {
      expect(discountPaise(12375, 1200)).to.equal(1485);
    });

    it('rounds exactly one half up', () => {
      expect(discountPaise(1250, 100)).to.equal(13); // 12.5
      expect(discountPaise(5, 1000)).to.equal(1); // 0.5
      expect(discountPaise(1, 5000)).to.equal(1); // 0.5
    });

    it('rounds a fraction above one half up', () => {
      expect(discountPaise(12346, 1200)).to.equal(1482); // 1481.52
      expect(discountPaise(7, 1000)).to.equal(1); // 0.7
    });

    it('rounds just below one half down', () => {
      expect(discountPaise(4, 1000)).to.equal(0); // 0.4
      expect(discountPaise(1249, 100)).to.equal(12); // 12.49
    });

    it('uses the basis points, not a whole percent (12.5% of 100001 = 12500.125)', () => {
      expect(discountPaise(100001, 1250)).to.equal(12500);
      expect(discountPaise(100004, 1250)).to.equal(12501); // 12500.5
    });

    it('gives nothing at 0% and everything at 100%', () => {
      expect(discountPaise(123457, 0)).to.equal(0);
      expect(discountPaise(123457, 10000)).to.equal(123457);
      expect(discountPaise(0, 1200)).to.equal(0);
    });

    it('matches exact rational rounding over many values', () => {
      for (let basePaise = 0; basePaise < 3000; basePaise += 13) {
        for (const bp of [1, 99, 1200, 1234, 3333, 5000, 9999]) {
          const exact = (BigInt(basePaise) * BigInt(bp) * 2n + 10000n) / 20000n; // floor(x + 1/2)
          expect(discountPaise(basePaise, bp), `${basePaise} @ ${bp}`).to.equal(Number(exact));
        }
      }
    });

    it('refuses negative, fractional or unsafe inputs', () => {
      expect(() => discountPaise(-1, 1200)).to.throw(RangeError);
      expect(() => discountPaise(100.5, 1200)).to.throw(RangeError);
      expect(() => discountPaise(Number.NaN, 1200)).to.throw(RangeError);
      expect(() => discountPaise(Number.MAX_SAFE_INTEGER + 1, 1)).to.throw(RangeError);
      expect(() => discountPaise(1000, -1)).to.throw(RangeError);
      expect(() => discountPaise(1000, 12.5)).to.throw(RangeError);
      expect(() => discountPaise(1000, 10001)).to.throw(RangeError);
    });

    it('refuses a base so large the product loses precision', () => {
      expect(() => discountPaise(Number.MAX_SAFE_INTEGER, 10000)).to.throw(RangeError);
    });
  });

  describe('sumPaise', () => {
    it('adds integer paise', () => {
      expect(sumPaise([])).to.equal(0);
      expect(sumPaise([50000, 50001])).to.equal(100001);
      expect(sumPaise([1, 2, 3])).to.equal(6);
    });

    it('refuses negative, fractional or non-finite values', () => {
      expect(() => sumPaise([100, -1])).to.throw(RangeError);
      expect(() => sumPaise([0.1, 0.2])).to.throw(RangeError);
      expect(() => sumPaise([Number.NaN])).to.throw(RangeError);
      expect(() => sumPaise([Infinity])).to.throw(RangeError);
    });

    it('refuses a total beyond safe integers', () => {
      expect(() => sumPaise([Number.MAX_SAFE_INTEGER, 1])).to.throw(RangeError);
    });
  });
});
