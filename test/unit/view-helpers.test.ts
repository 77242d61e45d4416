import { expect } from 'chai';
import { eventTypes } from '../../lib/events/catalogue.js';
import * as server from '../../server/views/helpers.js';
// @ts-expect-error: the browser module is plain JavaScript without type declarations.
import * as browser from '../../public/js/format.js';

const twin = browser as Record<string, (value: unknown) => string>;

describe('view helpers (server) and their browser twin', () => {
  const instants = ['2026-12-01T18:29:59.999Z', '2026-12-01T18:30:00.000Z', '2024-02-28T23:00:05.000Z'];

  it('show rupees the en-IN way', () => {
    for (const paise of [0, 5, 100000, 100001, 12345600, 108642]) {
      expect(twin.rupees!(paise)).to.equal(server.rupees(paise));
    }
    expect(server.rupees(12345600)).to.equal('₹1,23,456.00');
  });

  it('show IST dates and times, turning the day at 18:30 UTC', () => {
    expect(server.istDateTime(instants[0]!)).to.equal('1 Dec 2026, 23:59:59 IST');
    expect(server.istDateTime(instants[1]!)).to.equal('2 Dec 2026, 00:00:00 IST');
    expect(server.istDay(instants[2]!)).to.equal('29 Feb 2024');
    for (const at of instants) {
      expect(twin.istDay!(at)).to.equal(server.istDay(at));
      expect(twin.istTime!(at)).to.equal(server.istTime(at));
      expect(twin.istDateTime!(at)).to.equal(server.istDateTime(at));
    }
  });

  it('show an appointment with its weekday, in IST', () => {
    expect(server.appointmentTime('2026-12-02T09:15:00+05:30')).to.equal('Wed 2 Dec 2026, 09:15 IST');
    // 18:30 UTC is already the next IST day.
    expect(server.appointmentTime('2026-12-05T18:30:00.000Z')).to.equal('Sun 6 Dec 2026, 00:00 IST');
    for (const at of [...instants, '2026-12-02T09:15:00+05:30'])
      expect(twin.appointmentTime!(at)).to.equal(server.appointmentTime(at));
  });

  it('show today’s fill rate as a percentage and the places', () => {
    const days = [
      { held: 38, places: 90, fillRate: 0.422 },
      { held: 0, places: 108, fillRate: 0 },
      { held: 0, places: 0, fillRate: null },
      { held: 2, places: 0, fillRate: null },
    ];
    expect(server.fillRateText(days[0]!)).to.equal('42.2% (38 of 90 places held)');
    expect(server.fillRateText(days[2]!)).to.equal('No places offered (closed)');
    for (const day of days)
      expect((browser as typeof server).fillRateText(day)).to.equal(server.fillRateText(day));
  });

  it('show the time between steps', () => {
    const cases: [number, string][] = [
      [0, '0 ms'],
      [140, '140 ms'],
      [999, '999 ms'],
      [1000, '1.0 s'],
      [2449, '2.4 s'],
      [59_949, '59.9 s'],
      [185_000, '3 min 5 s'],
    ];
    for (const [ms, text] of cases) {
      expect(server.duration(ms)).to.equal(text);
      expect(twin.duration!(ms)).to.equal(text);
    }
  });

  it('name statuses and events in words, also events without a label', () => {
    for (const status of ['PENDING', 'CONFIRMED', 'REJECTED', 'FAILED', 'CANCELLED']) {
      expect(twin.statusWord!(status)).to.equal(server.statusWord(status));
    }
    expect(server.statusWord('CONFIRMED')).to.equal('Confirmed');
    for (const type of [
      'BookingRequested',
      'DiscountQuotaRejected',
      'SlotReserved',
      'CompensationTriggered',
    ]) {
      expect(twin.eventLabel!(type)).to.equal(server.eventLabel(type));
    }
    expect(server.eventLabel('CancellationRequested')).to.equal('Cancellation requested');
    expect(server.eventParticipant('PaymentFailed')).to.equal('payment');
  });

  it('label every event of the catalogue alike, the reschedule chain included', () => {
    for (const type of eventTypes) {
      expect(twin.eventLabel!(type), type).to.equal(server.eventLabel(type));
    }
    expect(server.eventLabel('RescheduleRequested')).to.equal('Reschedule requested');
    expect(server.eventLabel('RescheduleRejected')).to.equal('New time not available');
    expect(server.eventLabel('BookingRescheduled')).to.equal('Booking rescheduled');
    expect(server.eventParticipant('RescheduleRequested')).to.equal('booking');
  });

  it('show an appointment in IST and find the latest reschedule step', () => {
    const [start, end] = ['2026-12-02T09:00:00+05:30', '2026-12-02T09:15:00+05:30'];
    expect(server.slotTime(start, end)).to.equal('2 Dec 2026, 09:00–09:15 IST');
    expect((twin.slotTime as unknown as (a: string, b: string) => string)(start, end)).to.equal(
      server.slotTime(start, end),
    );
    const events = [
      { type: 'BookingConfirmed' },
      { type: 'RescheduleRequested' },
      { type: 'BookingRescheduled' },
      { type: 'RescheduleRequested' },
      { type: 'RescheduleRejected' },
    ];
    expect(server.lastReschedule(events)).to.equal('RescheduleRejected');
    expect(server.lastReschedule(events.slice(0, 3))).to.equal('BookingRescheduled');
    expect(server.lastReschedule(events.slice(0, 1))).to.equal(null);
    expect((twin.lastReschedule as unknown as (e: unknown) => unknown)(events)).to.equal(
      'RescheduleRejected',
    );
  });

  it('find the message for a field', () => {
    const errors = [{ field: 'email', message: 'Email: a valid email address' }];
    expect(server.fieldError(errors, 'email')).to.equal('Email: a valid email address');
    expect(server.fieldError(errors, 'name')).to.equal(null);
  });
});
