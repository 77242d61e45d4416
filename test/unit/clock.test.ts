import { expect } from 'chai';
import {
  addDays,
  fixedClock,
  isBirthday,
  isLeapYear,
  istDate,
  istToday,
  isValidIsoDate,
  manualClock,
  systemClock,
} from '../../lib/clock.js';

describe('clock', () => {
  describe('istDate', () => {
    it('turns to the next day at 18:30 UTC (midnight IST)', () => {
      expect(istDate(new Date('2026-03-01T18:29:59.999Z'))).to.equal('2026-03-01');
      expect(istDate(new Date('2026-03-01T18:29:59Z'))).to.equal('2026-03-01');
      expect(istDate(new Date('2026-03-01T18:30:00Z'))).to.equal('2026-03-02');
    });

    it('is already the same day from 00:00 IST, i.e. 18:30 UTC the evening before', () => {
      expect(istDate(new Date('2026-03-01T00:00:00Z'))).to.equal('2026-03-01');
      expect(istDate(new Date('2026-02-28T18:30:00Z'))).to.equal('2026-03-01');
      expect(istDate(new Date('2026-02-28T18:29:59Z'))).to.equal('2026-02-28');
    });

    it('crosses month, year and leap-day boundaries', () => {
      expect(istDate(new Date('2026-12-31T18:30:00Z'))).to.equal('2027-01-01');
      expect(istDate(new Date('2028-02-28T18:30:00Z'))).to.equal('2028-02-29');
      expect(istDate(new Date('2027-02-28T18:30:00Z'))).to.equal('2027-03-01');
    });

    it('agrees with the Asia/Kolkata time zone database', () => {
      const kolkata = new Intl.DateTimeFormat('en-CA', {
        timeZone: 'Asia/Kolkata',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
      });
      const start = Date.UTC(2024, 0, 1);
      for (let ms = start; ms < start + 800 * 86_400_000; ms += 7 * 3_600_000 + 17 * 60_000) {
        const at = new Date(ms);
        expect(istDate(at), at.toISOString()).to.equal(kolkata.format(at));
      }
    });

    it('does not depend on the offset written in the input', () => {
      expect(istDate(new Date('2026-03-02T00:00:00+05:30'))).to.equal('2026-03-02');
      expect(istDate(new Date('2026-03-01T23:59:59-05:00'))).to.equal('2026-03-02');
    });

    it('refuses an invalid Date', () => {
      expect(() => istDate(new Date('nope'))).to.throw(RangeError);
    });
  });

  describe('clocks', () => {
    it('systemClock tells the current time', () => {
      const before = Date.now();
      const now = systemClock.now().getTime();
      expect(now).to.be.within(before, Date.now());
    });

    it('fixedClock always returns the same instant, as a fresh Date', () => {
      const clock = fixedClock('2026-03-01T18:29:59Z');
      const first = clock.now();
      first.setUTCFullYear(1999);
      expect(clock.now().toISOString()).to.equal('2026-03-01T18:29:59.000Z');
      expect(istToday(clock)).to.equal('2026-03-01');
    });

    it('fixedClock is not moved by mutating the Date it was given', () => {
      const at = new Date('2026-03-01T00:00:00Z');
      const clock = fixedClock(at);
      at.setUTCDate(20);
      expect(clock.now().toISOString()).to.equal('2026-03-01T00:00:00.000Z');
    });

    it('manualClock can be set and advanced across IST midnight', () => {
      const clock = manualClock('2026-03-01T18:29:00Z');
      expect(istToday(clock)).to.equal('2026-03-01');
      clock.advance(60_000);
      expect(clock.now().toISOString()).to.equal('2026-03-01T18:30:00.000Z');
      expect(istToday(clock)).to.equal('2026-03-02');
      clock.set(new Date('2026-01-01T00:00:00Z'));
      expect(istToday(clock)).to.equal('2026-01-01');
    });

    it('refuses invalid instants', () => {
      expect(() => fixedClock('not a date')).to.throw(RangeError);
      expect(() => manualClock('2026-03-01T00:00:00Z').set('never')).to.throw(RangeError);
      expect(() => manualClock('2026-03-01T00:00:00Z').advance(Number.NaN)).to.throw(RangeError);
    });
  });

  describe('isValidIsoDate', () => {
    it('accepts real calendar dates', () => {
      for (const s of ['2026-03-01', '2024-02-29', '2000-02-29', '1990-12-31', '2026-04-30', '0001-01-01']) {
        expect(isValidIsoDate(s), s).to.equal(true);
      }
    });

    it('rejects impossible dates and other shapes', () => {
      for (const s of [
        '2023-02-29',
        '1900-02-29',
        '2026-04-31',
        '2026-13-01',
        '2026-00-10',
        '2026-01-00',
        '2026-01-32',
        '2026-1-01',
        '26-01-01',
        '2026/01/01',
        '2026-01-01T00:00:00Z',
        ' 2026-01-01',
        '',
      ]) {
        expect(isValidIsoDate(s), s).to.equal(false);
      }
      expect(isValidIsoDate(20260101 as unknown as string)).to.equal(false);
    });
  });

  describe('isLeapYear', () => {
    it('follows the Gregorian rule', () => {
      expect(isLeapYear(2024)).to.equal(true);
      expect(isLeapYear(2027)).to.equal(false);
      expect(isLeapYear(1900)).to.equal(false);
      expect(isLeapYear(2000)).to.equal(true);
    });
  });

  describe('isBirthday', () => {
    it('matches month and day, whatever the year', () => {
      expect(isBirthday('1990-03-01', '2026-03-01')).to.equal(true);
      expect(isBirthday('1990-03-02', '2026-03-01')).to.equal(false);
      expect(isBirthday('1990-04-01', '2026-03-01')).to.equal(false);
      expect(isBirthday('1990-12-31', '2026-12-31')).to.equal(true);
    });

    it('does not confuse month and day', () => {
      expect(isBirthday('1990-01-03', '2026-03-01')).to.equal(false);
    });

    it('keeps a 29 February birthday on 28 February in non-leap years only', () => {
      expect(isBirthday('2000-02-29', '2027-02-28')).to.equal(true);
      expect(isBirthday('2000-02-29', '2028-02-28')).to.equal(false);
      expect(isBirthday('2000-02-29', '2028-02-29')).to.equal(true);
      expect(isBirthday('2000-02-29', '2100-02-28')).to.equal(true); // 2100 is not leap
      expect(isBirthday('2000-02-29', '2000-02-28')).to.equal(false);
      expect(isBirthday('2000-02-29', '2027-03-01')).to.equal(false);
    });

    it('does not move a 28 February birthday', () => {
      expect(isBirthday('1999-02-28', '2027-02-28')).to.equal(true);
      expect(isBirthday('1999-02-28', '2028-02-29')).to.equal(false);
    });

    it('gives no birthday to someone born after today', () => {
      expect(isBirthday('2030-03-01', '2026-03-01')).to.equal(false);
    });

    it('refuses malformed dates', () => {
      expect(() => isBirthday('1990-02-30', '2026-03-01')).to.throw(RangeError);
      expect(() => isBirthday('1990-03-01', '01/03/2026')).to.throw(RangeError);
    });
  });

  describe('addDays', () => {
    it('moves across months, years and leap days', () => {
      expect(addDays('2026-03-01', -1)).to.equal('2026-02-28');
      expect(addDays('2028-03-01', -1)).to.equal('2028-02-29');
      expect(addDays('2026-12-31', 1)).to.equal('2027-01-01');
      expect(addDays('2026-03-01', 0)).to.equal('2026-03-01');
      expect(addDays('2026-01-01', 365)).to.equal('2027-01-01');
      expect(addDays('0050-01-01', 1)).to.equal('0050-01-02');
    });

    it('refuses fractional days and bad dates', () => {
      expect(() => addDays('2026-03-01', 0.5)).to.throw(RangeError);
      expect(() => addDays('2026-02-30', 1)).to.throw(RangeError);
    });
  });
});
