import ical, { ICalCalendarMethod, ICalEventStatus } from 'ical-generator';
import type { Clinic } from '../receipt/receipt.js';

/** When the visit is: a timed appointment, or a walk-in on an IST day (an all-day event that day). */
export type Visit = { appointment: { start: string; end: string } } | { walkInDay: string };

export interface InviteInput {
  bookingId: string;
  reference: string;
  visit: Visit;
  clinic: Clinic;
  organizer: { name: string; email: string };
  attendee: { name: string; email: string };
  /** 0 for the first invite; each change of the same booking sends a higher one. */
  sequence: number;
  method: 'REQUEST' | 'CANCEL';
  /** When the invite is issued (DTSTAMP). */
  at: Date;
}

const TIME_ZONE = 'Asia/Kolkata';
const IST_OFFSET_MS = (5 * 60 + 30) * 60_000;

// India has kept +05:30 without daylight saving since 1945, so one STANDARD rule describes the zone.
const IST_VTIMEZONE = [
  'BEGIN:VTIMEZONE',
  `TZID:${TIME_ZONE}`,
  'BEGIN:STANDARD',
  'DTSTART:19700101T000000',
  'TZOFFSETFROM:+0530',
  'TZOFFSETTO:+0530',
  'TZNAME:IST',
  'END:STANDARD',
  'END:VTIMEZONE',
].join('\r\n');

/** The IST wall-clock time of an instant, 'YYYY-MM-DDTHH:MM:SS', for DTSTART;TZID=Asia/Kolkata. */
function istWallTime(iso: string): string {
  const ms = new Date(iso).getTime();
  if (Number.isNaN(ms)) throw new RangeError(`not a time: ${iso}`);
  return new Date(ms + IST_OFFSET_MS).toISOString().slice(0, 19);
}

/** The UID every invite of one booking shares, so calendars update or remove the same event. */
export function inviteUid(bookingId: string): string {
  return `booking-${bookingId}@clinic-booking`;
}

/** An iCalendar invite (RFC 5545/5546) for the visit: times in Asia/Kolkata, the clinic's address. */
export function buildInvite(input: InviteInput): string {
  const calendar = ical({
    method: input.method === 'CANCEL' ? ICalCalendarMethod.CANCEL : ICalCalendarMethod.REQUEST,
    prodId: { company: input.clinic.name, product: 'Clinic booking', language: 'EN' },
  });
  // No calendar-wide zone: DTSTAMP stays UTC; the events' TZID gets this VTIMEZONE.
  calendar.timezone({ name: null, generator: (zone) => (zone === TIME_ZONE ? IST_VTIMEZONE : null) });
  const when =
    'appointment' in input.visit
      ? {
          start: istWallTime(input.visit.appointment.start),
          end: istWallTime(input.visit.appointment.end),
          timezone: TIME_ZONE,
        }
      : { start: input.visit.walkInDay, allDay: true };
  calendar.createEvent({
    id: inviteUid(input.bookingId),
    sequence: input.sequence,
    stamp: input.at,
    ...when,
    summary: `${input.clinic.name}: clinic visit ${input.reference}`,
    description: `Booking ${input.reference}. Please quote this reference at the reception.`,
    location: `${input.clinic.name}, ${input.clinic.address}`,
    organizer: input.organizer,
    attendees: [{ name: input.attendee.name, email: input.attendee.email, rsvp: false }],
    status: input.method === 'CANCEL' ? ICalEventStatus.CANCELLED : ICalEventStatus.CONFIRMED,
  });
  return calendar.toString();
}
