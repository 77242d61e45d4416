import { expect } from 'chai';
import { cancellationSettled, changeability, changeDeadline } from '../../lib/booking/change-rules.js';

describe('change rules (cancel before the cutoff)', () => {
  const appointmentStart = new Date('2026-12-01T10:30:00+05:30');

  it('closes changes CANCELLATION_CUTOFF_MINUTES before the appointment', () => {
    const deadline = changeDeadline({
      appointmentStart,
      bookedAt: new Date('2026-11-20T10:00:00Z'),
      cutoffMinutes: 120,
    });
    expect(deadline.toISOString()).to.equal(new Date('2026-12-01T08:30:00+05:30').toISOString());
    const at = (iso: string) =>
      changeability({ status: 'CONFIRMED', change: null, now: new Date(iso), deadline });
    expect(at('2026-12-01T08:29:00+05:30')).to.equal('changeable'); // one minute before
    expect(at('2026-12-01T08:30:00+05:30')).to.equal('too_late');
    expect(at('2026-12-01T08:31:00+05:30')).to.equal('too_late'); // one minute after
  });

  it('lets a walk-in change until the end of its IST day, whatever the UTC date', () => {
    // Booked at 23:30 IST on 1 December (18:00 UTC): the IST day ends at 18:30 UTC.
    const deadline = changeDeadline({
      appointmentStart: null,
      bookedAt: new Date('2026-12-01T18:00:00Z'),
      cutoffMinutes: 120,
    });
    expect(deadline.toISOString()).to.equal('2026-12-01T18:30:00.000Z');
    // Booked at 00:10 IST on 2 December (18:40 UTC on the 1st): the whole of 2 December IST.
    expect(
      changeDeadline({
        appointmentStart: null,
        bookedAt: new Date('2026-12-01T18:40:00Z'),
        cutoffMinutes: 120,
      }).toISOString(),
    ).to.equal('2026-12-02T18:30:00.000Z');
    const at = (iso: string) =>
      changeability({ status: 'CONFIRMED', change: null, now: new Date(iso), deadline });
    expect(at('2026-12-01T18:29:00Z')).to.equal('changeable');
    expect(at('2026-12-01T18:31:00Z')).to.equal('too_late');
  });

  it('changes only a confirmed booking with no change under way', () => {
    const deadline = new Date('2030-01-01T00:00:00Z');
    const now = new Date('2026-12-01T00:00:00Z');
    for (const status of ['PENDING', 'REJECTED', 'FAILED', 'CANCELLED'] as const) {
      expect(changeability({ status, change: null, now, deadline }), status).to.equal('not_changeable');
    }
    expect(changeability({ status: 'CONFIRMED', change: 'cancelling', now, deadline })).to.equal(
      'not_changeable',
    );
    // A move under way blocks a cancel and a second move until it is settled.
    expect(changeability({ status: 'CONFIRMED', change: 'rescheduling', now, deadline })).to.equal(
      'not_changeable',
    );
    expect(
      cancellationSettled({
        change: 'rescheduling',
        status: 'CONFIRMED',
        quotaOutcome: 'skipped',
        quotaReleased: false,
        refunded: true,
      }),
    ).to.equal(false);
    // Not changeable beats too late: a cancelled booking is not "too late to cancel".
    expect(changeability({ status: 'CANCELLED', change: null, now: deadline, deadline })).to.equal(
      'not_changeable',
    );
  });

  it('settles a cancellation once refunded and its discount slot (if any) is back', () => {
    const base = {
      change: 'cancelling',
      status: 'CONFIRMED' as const,
      quotaReleased: false,
      refunded: false,
    };
    expect(cancellationSettled({ ...base, quotaOutcome: 'skipped' })).to.equal(false);
    expect(cancellationSettled({ ...base, quotaOutcome: 'skipped', refunded: true })).to.equal(true);
    expect(cancellationSettled({ ...base, quotaOutcome: 'reserved', refunded: true })).to.equal(false);
    expect(cancellationSettled({ ...base, quotaOutcome: 'reserved', quotaReleased: true })).to.equal(false);
    expect(
      cancellationSettled({ ...base, quotaOutcome: 'reserved', quotaReleased: true, refunded: true }),
    ).to.equal(true);
    expect(cancellationSettled({ ...base, change: null, quotaOutcome: 'skipped', refunded: true })).to.equal(
      false,
    );
    expect(
      cancellationSettled({ ...base, status: 'CANCELLED', quotaOutcome: 'skipped', refunded: true }),
    ).to.equal(false);
  });
});
