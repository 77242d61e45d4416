import { expect } from 'chai';
import fc from 'fast-check';
import { addDays } from '../../lib/clock.js';
import {
  DEFAULT_SCHEDULE,
  applyChange,
  fillRate,
  formatIst,
  isOffered,
  istInstant,
  istParts,
  placesLeft,
  scheduleChangeSchema,
  scheduleSchema,
  slotProblem,
  slotStartingAt,
  slotsBetween,
  slotsOfDay,
  weekdayOf,
  type Schedule,
} from '../../lib/scheduling/slot-rules.js';

const DEFAULT_SCHEDULE_DAYS = Object.keys(DEFAULT_SCHEDULE.hours);
const schedule = (overrides: Partial<Schedule> = {}): Schedule => ({ ...DEFAULT_SCHEDULE, ...overrides });
const times = (slots: { time: string }[]) => slots.map((slot) => slot.time);
const dates = (slots: { date: string }[]) => [...new Set(slots.map((slot) => slot.date))];

describe('slot rules', () => {
  describe('IST times', () => {
    it('writes an instant in IST with its offset, and reads an IST wall-clock time back', () => {
      expect(formatIst(new Date('2026-03-02T03:30:00Z'))).to.equal('2026-03-02T09:00:00+05:30');
      expect(istInstant('2026-03-02', '09:00').toISOString()).to.equal('2026-03-02T03:30:00.000Z');
      // 00:15 IST is the evening before in UTC.
      expect(istInstant('2026-03-02', '00:15').toISOString()).to.equal('2026-03-01T18:45:00.000Z');
    });

    it('turns the IST date at 18:30 UTC: 18:29 is 23:59 of the same day, 18:30 is midnight of the next', () => {
      expect(istParts(new Date('2026-03-01T18:29:00Z'))).to.deep.equal({ date: '2026-03-01', time: '23:59' });
      expect(istParts(new Date('2026-03-01T18:30:00Z'))).to.deep.equal({ date: '2026-03-02', time: '00:00' });
    });

    it('names weekdays of IST dates, across a year end and 29 February', () => {
      expect(weekdayOf('2026-03-02')).to.equal('monday');
      expect(weekdayOf('2026-03-01')).to.equal('sunday');
      expect(weekdayOf('2026-12-31')).to.equal('thursday');
      expect(weekdayOf('2027-01-01')).to.equal('friday');
      expect(weekdayOf('2028-02-29')).to.equal('tuesday');
    });

    it("gives the same slots whatever the server's time zone", () => {
      const saved = process.env.TZ;
      try {
        const seen = ['UTC', 'America/Los_Angeles', 'Asia/Kolkata', 'Pacific/Kiritimati'].map((zone) => {
          process.env.TZ = zone;
          return slotsBetween(DEFAULT_SCHEDULE, '2026-03-01', 3).map((slot) => formatIst(slot.start));
        });
        for (const other of seen.slice(1)) expect(other).to.deep.equal(seen[0]);
        expect(seen[0]?.[0]).to.equal('2026-03-02T09:00:00+05:30');
      } finally {
        if (saved === undefined) delete process.env.TZ;
        else process.env.TZ = saved;
      }
    });
  });

  describe('slot generation', () => {
    it('gives a weekday of the default schedule 36 slots of 15 minutes, 09:00 to the last at 17:45', () => {
      const slots = slotsOfDay(DEFAULT_SCHEDULE, '2026-03-02');
      expect(slots).to.have.length(36);
      expect(slots[0]).to.deep.include({ date: '2026-03-02', time: '09:00' });
      expect(formatIst(slots[0]!.end)).to.equal('2026-03-02T09:15:00+05:30');
      expect(slots.at(-1)?.time).to.equal('17:45');
      expect(formatIst(slots.at(-1)!.end)).to.equal('2026-03-02T18:00:00+05:30');
    });

    it('follows each weekday its own hours, and a slot never runs past closing', () => {
      const custom = schedule({
        slotMinutes: 40,
        hours: { ...DEFAULT_SCHEDULE.hours, saturday: { opens: '10:00', closes: '12:30' } },
      });
      // 10:00, 10:40, 11:20; 12:00 would end at 12:40, after closing.
      expect(times(slotsOfDay(custom, '2026-03-07'))).to.deep.equal(['10:00', '10:40', '11:20']);
      expect(slotsOfDay(custom, '2026-03-02')).to.have.length(13);
    });

    it('gives a closed weekday and a closed date no slots', () => {
      expect(slotsOfDay(DEFAULT_SCHEDULE, '2026-03-01')).to.deep.equal([]);
      const holiday = schedule({ closedDates: ['2026-03-04'] });
      expect(slotsOfDay(holiday, '2026-03-04')).to.deep.equal([]);
      expect(dates(slotsBetween(holiday, '2026-03-02', 4))).to.deep.equal([
        '2026-03-02',
        '2026-03-03',
        '2026-03-05',
      ]);
    });

    it('runs across a month end and a year end', () => {
      expect(dates(slotsBetween(DEFAULT_SCHEDULE, '2026-01-30', 4))).to.deep.equal([
        '2026-01-30',
        '2026-01-31',
        '2026-02-02',
      ]);
      const yearEnd = slotsBetween(DEFAULT_SCHEDULE, '2026-12-31', 2);
      expect(dates(yearEnd)).to.deep.equal(['2026-12-31', '2027-01-01']);
      expect(formatIst(yearEnd[36]!.start)).to.equal('2027-01-01T09:00:00+05:30');
      expect(dates(slotsBetween(DEFAULT_SCHEDULE, '2028-02-28', 2))).to.deep.equal([
        '2028-02-28',
        '2028-02-29',
      ]);
    });

    it('finds the slot starting at an instant, in any offset, and nothing between slot starts', () => {
      const slot = slotStartingAt(DEFAULT_SCHEDULE, new Date('2026-03-02T04:00:00Z'));
      expect(slot).to.deep.include({ date: '2026-03-02', time: '09:30' });
      expect(slotStartingAt(DEFAULT_SCHEDULE, new Date('2026-03-02T09:37:00+05:30'))).to.equal(null);
      expect(slotStartingAt(DEFAULT_SCHEDULE, new Date('2026-03-02T18:00:00+05:30'))).to.equal(null);
      expect(slotStartingAt(DEFAULT_SCHEDULE, new Date('2026-03-01T09:00:00+05:30'))).to.equal(null);
    });
  });

  describe('any schedule an admin may set', () => {
    const time = (minutes: number) =>
      `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
    // Opening hours that fit at least one slot of `steps` five-minute steps, on five-minute marks.
    const hoursOf = (steps: number) =>
      fc
        .integer({ min: 0, max: 287 - steps })
        .chain((opens) =>
          fc
            .integer({ min: opens + steps, max: 287 })
            .map((closes) => ({ opens: time(opens * 5), closes: time(closes * 5) })),
        );
    const schedules = fc.integer({ min: 1, max: 24 }).chain((steps) =>
      fc.record({
        slotMinutes: fc.constant(steps * 5),
        capacity: fc.integer({ min: 1, max: 100 }),
        hours: fc.record(
          Object.fromEntries(
            DEFAULT_SCHEDULE_DAYS.map((day) => [day, fc.option(hoursOf(steps), { nil: null })]),
          ),
        ) as fc.Arbitrary<Schedule['hours']>,
        closedDates: fc.uniqueArray(
          fc.integer({ min: 0, max: 40 }).map((n) => addDays('2026-12-20', n)),
          {
            maxLength: 5,
          },
        ),
      }),
    );

    it('gives slots inside opening hours, in order, one length long, each found again by its start', () => {
      fc.assert(
        fc.property(schedules, fc.integer({ min: 0, max: 20 }), (input, offset) => {
          const generated = scheduleSchema.parse(input);
          const from = addDays('2026-12-20', offset);
          const slots = slotsBetween(generated, from, 7);
          for (const [i, slot] of slots.entries()) {
            const hours = generated.hours[weekdayOf(slot.date)];
            expect(hours).to.not.equal(null);
            expect(generated.closedDates).not.to.include(slot.date);
            expect(slot.time >= hours!.opens).to.equal(true);
            expect(formatIst(slot.end).slice(11, 16) <= hours!.closes).to.equal(true);
            expect(istParts(slot.start)).to.deep.equal({ date: slot.date, time: slot.time });
            expect(slot.end.getTime() - slot.start.getTime()).to.equal(generated.slotMinutes * 60_000);
            if (i % 25 === 0)
              expect(slotStartingAt(generated, slot.start)?.start.getTime()).to.equal(slot.start.getTime());
            if (i > 0) expect(slot.start.getTime()).to.be.at.least(slots[i - 1]!.end.getTime());
          }
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('what can be booked', () => {
    const nine = new Date('2026-03-02T09:00:00+05:30');

    it('offers a slot from 60 minutes ahead: at 07:59 IST the 09:00 slot is offered, at 08:01 it is not', () => {
      const [slot] = slotsOfDay(DEFAULT_SCHEDULE, '2026-03-02');
      expect(isOffered(slot!, new Date('2026-03-02T07:59:00+05:30'))).to.equal(true);
      expect(isOffered(slot!, new Date('2026-03-02T08:00:00+05:30'))).to.equal(true);
      expect(isOffered(slot!, new Date('2026-03-02T08:01:00+05:30'))).to.equal(false);
      expect(isOffered(slot!, new Date('2026-03-02T10:00:00+05:30'))).to.equal(false);
    });

    it('names why a start cannot be booked: not a slot, closed, too soon or past, too far ahead', () => {
      const now = new Date('2026-03-01T12:00:00+05:30');
      expect(slotProblem(DEFAULT_SCHEDULE, nine, now)).to.equal(null);
      expect(slotProblem(DEFAULT_SCHEDULE, new Date('2026-03-02T09:05:00+05:30'), now)).to.equal(
        'not_a_slot',
      );
      expect(slotProblem(DEFAULT_SCHEDULE, new Date('2026-03-02T08:45:00+05:30'), now)).to.equal(
        'not_a_slot',
      );
      expect(slotProblem(DEFAULT_SCHEDULE, new Date('2026-03-08T09:00:00+05:30'), now)).to.equal('closed');
      expect(slotProblem(schedule({ closedDates: ['2026-03-02'] }), nine, now)).to.equal('closed');
      expect(slotProblem(DEFAULT_SCHEDULE, nine, new Date('2026-03-02T08:30:00+05:30'))).to.equal('too_soon');
      expect(slotProblem(DEFAULT_SCHEDULE, nine, new Date('2026-03-03T08:30:00+05:30'))).to.equal('too_soon');
      expect(slotProblem(DEFAULT_SCHEDULE, new Date('2027-03-08T09:00:00+05:30'), now)).to.equal('too_far');
    });

    it('counts places left and never below zero when a lowered capacity is under the places held', () => {
      expect(placesLeft(3, 0)).to.equal(3);
      expect(placesLeft(3, 3)).to.equal(0);
      expect(placesLeft(1, 3)).to.equal(0);
    });

    it("computes a day's fill rate, and none on a closed day", () => {
      expect(fillRate(36, 3, 27)).to.equal(0.25);
      expect(fillRate(0, 3, 0)).to.equal(null);
    });
  });

  describe('the schedule an admin sets', () => {
    it('accepts the defaults and sorts and dedupes closed dates', () => {
      expect(scheduleSchema.parse(DEFAULT_SCHEDULE)).to.deep.equal(DEFAULT_SCHEDULE);
      const parsed = scheduleSchema.parse(
        schedule({ closedDates: ['2026-12-25', '2026-08-15', '2026-12-25'] }),
      );
      expect(parsed.closedDates).to.deep.equal(['2026-08-15', '2026-12-25']);
    });

    it('refuses hours that do not fit, odd lengths, a capacity out of range and unreal dates', () => {
      const wrong: unknown[] = [
        schedule({ hours: { ...DEFAULT_SCHEDULE.hours, monday: { opens: '18:00', closes: '09:00' } } }),
        schedule({ hours: { ...DEFAULT_SCHEDULE.hours, monday: { opens: '9:00', closes: '18:00' } } }),
        schedule({ hours: { ...DEFAULT_SCHEDULE.hours, monday: { opens: '09:03', closes: '18:00' } } }),
        schedule({ hours: { ...DEFAULT_SCHEDULE.hours, monday: { opens: '09:00', closes: '09:10' } } }),
        schedule({ slotMinutes: 7 }),
        schedule({ slotMinutes: 0 }),
        schedule({ slotMinutes: 15.5 }),
        schedule({ capacity: 0 }),
        schedule({ capacity: 101 }),
        schedule({ closedDates: ['2026-02-29'] }),
        { ...DEFAULT_SCHEDULE, capacity: '3' },
        { ...DEFAULT_SCHEDULE, hours: { monday: DEFAULT_SCHEDULE.hours.monday } },
      ];
      for (const value of wrong)
        expect(scheduleSchema.safeParse(value).success, JSON.stringify(value)).to.equal(false);
    });

    it('changes only what an admin names, weekday by weekday', () => {
      const change = scheduleChangeSchema.parse({
        capacity: 1,
        hours: { sunday: { opens: '10:00', closes: '13:00' } },
      });
      const after = scheduleSchema.parse(applyChange(DEFAULT_SCHEDULE, change));
      expect(after.capacity).to.equal(1);
      expect(after.hours.sunday).to.deep.equal({ opens: '10:00', closes: '13:00' });
      expect(after.hours.monday).to.deep.equal(DEFAULT_SCHEDULE.hours.monday);
      expect(scheduleChangeSchema.safeParse({}).success).to.equal(false);
      // A longer slot that no longer fits a short day is refused as a whole.
      const tooLong = applyChange(after, scheduleChangeSchema.parse({ slotMinutes: 240 }));
      expect(scheduleSchema.safeParse(tooLong).success).to.equal(false);
    });
  });
});
