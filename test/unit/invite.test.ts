import { expect } from 'chai';
import ical from 'node-ical';
import { buildInvite, inviteUid, type InviteInput } from '../../lib/confirmation/invite.js';
import {
  composeReschedule,
  describeVisit,
  parseMailbox,
} from '../../lib/confirmation/confirmation-message.js';

const input: InviteInput = {
  bookingId: '0b5c4d8e-1111-4222-8333-444455556666',
  reference: 'MC-7K2Q-9XD4',
  visit: { appointment: { start: '2026-12-01T10:30:00+05:30', end: '2026-12-01T10:45:00+05:30' } },
  clinic: { name: 'Sunrise Clinic', address: '4 Park Street, Kolkata 700016', gstin: null },
  organizer: { name: 'Sunrise Clinic', email: 'no-reply@clinic.example' },
  attendee: { name: 'Asha Verma', email: 'asha@example.com' },
  sequence: 0,
  method: 'REQUEST',
  at: new Date('2026-11-20T04:00:00Z'),
};

function onlyEvent(ics: string): ical.VEvent {
  const events = Object.values(ical.sync.parseICS(ics)).filter(
    (component): component is ical.VEvent => component.type === 'VEVENT',
  );
  expect(events).to.have.length(1);
  return events[0] as ical.VEvent;
}

describe('calendar invite', () => {
  const zone = process.env.TZ;
  afterEach(() => {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  });

  // The server's own zone must not move the visit: the same instant whatever TZ says.
  for (const serverZone of ['UTC', 'America/New_York', 'Asia/Tokyo', 'Asia/Kolkata']) {
    it(`holds the appointment's time in Asia/Kolkata on a server in ${serverZone}`, () => {
      process.env.TZ = serverZone;
      const ics = buildInvite(input);
      expect(ics).to.match(/^METHOD:REQUEST\r$/m);
      expect(ics).to.contain('DTSTART;TZID=Asia/Kolkata:20261201T103000');
      expect(ics).to.contain('DTEND;TZID=Asia/Kolkata:20261201T104500');
      expect(ics).to.contain('BEGIN:VTIMEZONE\r\nTZID:Asia/Kolkata');
      const event = onlyEvent(ics);
      expect(event.start.toISOString()).to.equal('2026-12-01T05:00:00.000Z');
      expect(event.end.toISOString()).to.equal('2026-12-01T05:15:00.000Z');
      expect((event.start as ical.DateWithTimeZone).tz).to.equal('Asia/Kolkata');
    });
  }

  it('names the clinic, its address, a UID stable per booking and the SEQUENCE', () => {
    const first = onlyEvent(buildInvite(input));
    const later = onlyEvent(buildInvite({ ...input, sequence: 2, at: new Date('2026-11-25T04:00:00Z') }));
    expect(first.uid).to.equal(inviteUid(input.bookingId)).and.to.equal(later.uid);
    expect(first.uid).to.contain(input.bookingId);
    expect(inviteUid('another-booking')).not.to.equal(first.uid);
    expect(String(first.sequence)).to.equal('0');
    expect(String(later.sequence)).to.equal('2');
    expect(first.location).to.equal('Sunrise Clinic, 4 Park Street, Kolkata 700016');
    expect(first.summary).to.contain('MC-7K2Q-9XD4');
    expect(first.status).to.equal('CONFIRMED');
    expect(JSON.stringify(first.organizer)).to.contain('mailto:no-reply@clinic.example');
    expect(buildInvite(input)).to.match(/^DTSTAMP:20261120T040000Z\r$/m);
  });

  it('cancels with METHOD:CANCEL, STATUS:CANCELLED and the same UID', () => {
    const ics = buildInvite({ ...input, method: 'CANCEL', sequence: 1 });
    expect(ics).to.match(/^METHOD:CANCEL\r$/m);
    const event = onlyEvent(ics);
    expect(event.status).to.equal('CANCELLED');
    expect(event.uid).to.equal(inviteUid(input.bookingId));
    expect(String(event.sequence)).to.equal('1');
  });

  it('puts a walk-in in the calendar as an all-day event on its IST day', () => {
    process.env.TZ = 'America/New_York';
    const ics = buildInvite({ ...input, visit: { walkInDay: '2026-12-01' } });
    expect(ics).to.contain('DTSTART;VALUE=DATE:20261201');
    const event = onlyEvent(ics);
    expect(event.datetype).to.equal('date');
  });

  it('describes the visit in IST words for the email', () => {
    process.env.TZ = 'America/New_York';
    expect(describeVisit(input.visit)).to.equal('Tuesday, 1 December 2026, 10:30 am – 10:45 am IST');
    expect(describeVisit({ walkInDay: '2026-12-01' })).to.equal(
      'Tuesday, 1 December 2026, walk-in during opening hours',
    );
  });

  it('tells of a moved visit in text and HTML, with the updated invite: same UID, its SEQUENCE, the new time', async () => {
    const message = await composeReschedule({
      bookingId: input.bookingId,
      reference: input.reference,
      patient: { name: 'Asha <Verma>', email: 'asha@example.com' },
      previous: input.visit,
      visit: { appointment: { start: '2026-12-03T16:00:00+05:30', end: '2026-12-03T16:15:00+05:30' } },
      reason: null,
      clinic: input.clinic,
      from: 'Sunrise Clinic <no-reply@clinic.example>',
      sequence: 3,
      at: new Date('2026-11-26T04:00:00Z'),
    });
    expect(message.subject).to.equal(
      'Booking MC-7K2Q-9XD4 moved to Thursday, 3 December 2026, 4:00 pm – 4:15 pm IST',
    );
    expect(message.messageId).to.equal(`<reschedule-${input.bookingId}-3@clinic.example>`);
    expect(message.text).to.contain('has moved').and.to.contain('Was: Tuesday, 1 December 2026, 10:30 am');
    expect(message.text).to.contain('Now: Thursday, 3 December 2026, 4:00 pm');
    expect(message.html).to.contain('has moved').and.to.contain('Asha &lt;Verma&gt;');
    const ics = message.icalEvent?.content ?? '';
    expect(message.icalEvent?.method).to.equal('REQUEST');
    expect(ics).to.match(/^METHOD:REQUEST\r$/m);
    expect(ics).to.contain('DTSTART;TZID=Asia/Kolkata:20261203T160000');
    const event = onlyEvent(ics);
    expect(event.uid).to.equal(inviteUid(input.bookingId));
    expect(String(event.sequence)).to.equal('3');
  });

  it('reads the organizer from MAIL_FROM', () => {
    expect(parseMailbox('Clinic <no-reply@clinic.example>')).to.deep.equal({
      name: 'Clinic',
      email: 'no-reply@clinic.example',
    });
    expect(parseMailbox('"Sunrise Clinic" <desk@sunrise.example>')).to.deep.equal({
      name: 'Sunrise Clinic',
      email: 'desk@sunrise.example',
    });
    expect(parseMailbox('desk@sunrise.example')).to.deep.equal({
      name: 'desk@sunrise.example',
      email: 'desk@sunrise.example',
    });
  });
});
