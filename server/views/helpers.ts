// Formatting for pages, on app.locals. public/js/format.js is its browser twin (the same output;
// test/unit/view-helpers.test.ts holds them to it).
import { formatInr } from '../../lib/money.js';

const IST_OFFSET_MS = (5 * 60 + 30) * 60 * 1000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const STATUS_WORDS: Record<string, string> = {
  PENDING: 'Pending',
  CONFIRMED: 'Confirmed',
  REJECTED: 'Rejected',
  FAILED: 'Failed',
  CANCELLED: 'Cancelled',
};

const EVENT_LABELS: Record<string, string> = {
  BookingRequested: 'Booking requested',
  SlotReserved: 'Time slot reserved',
  SlotSkipped: 'No time slot needed',
  SlotRejected: 'Time slot no longer available',
  SlotReleased: 'Time slot released',
  PricingCalculated: 'Price calculated',
  DiscountQuotaReserved: 'Discount reserved',
  DiscountQuotaSkipped: 'No discount applies',
  DiscountQuotaRejected: 'Daily discount quota reached',
  DiscountQuotaReleased: 'Discount released',
  PaymentCompleted: 'Payment completed',
  PaymentFailed: 'Payment failed',
  PaymentRefunded: 'Payment refunded',
  CompensationTriggered: 'Undoing the booking',
  BookingConfirmed: 'Booking confirmed',
  BookingRejected: 'Booking rejected',
  BookingFailed: 'Booking failed',
  CancellationRequested: 'Cancellation requested',
  BookingCancelled: 'Booking cancelled',
  RescheduleRequested: 'Reschedule requested',
  RescheduleRejected: 'New time not available',
  BookingRescheduled: 'Booking rescheduled',
};

const EVENT_PARTICIPANTS: Record<string, string> = {
  BookingRequested: 'booking',
  SlotReserved: 'scheduling',
  SlotSkipped: 'scheduling',
  SlotRejected: 'scheduling',
  SlotReleased: 'scheduling',
  PricingCalculated: 'pricing',
  DiscountQuotaReserved: 'discount-quota',
  DiscountQuotaSkipped: 'discount-quota',
  DiscountQuotaRejected: 'discount-quota',
  DiscountQuotaReleased: 'discount-quota',
  PaymentCompleted: 'payment',
  PaymentFailed: 'payment',
  PaymentRefunded: 'payment',
  CompensationTriggered: 'booking',
  BookingConfirmed: 'booking',
  BookingRejected: 'booking',
  BookingFailed: 'booking',
  CancellationRequested: 'booking',
  BookingCancelled: 'booking',
  RescheduleRequested: 'booking',
  RescheduleRejected: 'scheduling',
  BookingRescheduled: 'booking',
};

/** The IST wall clock of an instant, read through UTC getters (IST has no daylight saving). */
function istParts(at: string | Date) {
  const d = new Date(new Date(at).getTime() + IST_OFFSET_MS);
  const pad = (n: number) => String(n).padStart(2, '0');
  return {
    date: `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`,
    time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
  };
}

/** 108642 → "₹1,086.42" (en-IN). */
export const rupees = (paise: number): string => formatInr(paise);

/** "1 Dec 2026" in IST. */
export const istDay = (at: string | Date): string => istParts(at).date;

/** "14:05:09" in IST. */
export const istTime = (at: string | Date): string => istParts(at).time;

/** "1 Dec 2026, 14:05:09 IST". */
export const istDateTime = (at: string | Date): string => {
  const { date, time } = istParts(at);
  return `${date}, ${time} IST`;
};

/** An appointment: "1 Dec 2026, 14:30–14:45 IST". */
export const slotTime = (start: string | Date, end: string | Date): string =>
  `${istParts(start).date}, ${istParts(start).time.slice(0, 5)}–${istParts(end).time.slice(0, 5)} IST`;

/** The latest step of a reschedule on a timeline (asked, moved, refused), or null. */
export const lastReschedule = (events: readonly { type: string }[]): string | null =>
  events.findLast((event) => RESCHEDULE_STEPS.includes(event.type))?.type ?? null;

const RESCHEDULE_STEPS = ['RescheduleRequested', 'RescheduleRejected', 'BookingRescheduled'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** An appointment's start as patients read it: "Wed 2 Dec 2026, 09:15 IST". */
export const appointmentTime = (at: string | Date): string => {
  const d = new Date(new Date(at).getTime() + IST_OFFSET_MS);
  const { date, time } = istParts(at);
  return `${WEEKDAYS[d.getUTCDay()]} ${date}, ${time.slice(0, 5)} IST`;
};

/** Today's fill rate as the dashboard shows it: "42.2% (38 of 90 places held)". */
export const fillRateText = (day: { held: number; places: number; fillRate: number | null }): string =>
  day.fillRate === null
    ? `No places offered (closed)${day.held > 0 ? `; ${day.held} held` : ''}`
    : `${Math.round(day.fillRate * 1000) / 10}% (${day.held} of ${day.places} places held)`;

/** A 'YYYY-MM-DD' calendar date as "14 Jul 1988" (no time zone: it is a date, not an instant). */
export const calendarDate = (isoDate: string): string => {
  const [year, month, day] = isoDate.split('-').map(Number) as [number, number, number];
  return `${day} ${MONTHS[month - 1]} ${year}`;
};

/** The time between two steps: "140 ms", "2.4 s", "3 min 5 s". */
export const duration = (ms: number): string => {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(Math.round(ms / 100) / 10).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
};

export const statusWord = (status: string): string => STATUS_WORDS[status] ?? status;

/** A saga event as patients read it; an event without a label reads as its words. */
export const eventLabel = (type: string): string => {
  const label = EVENT_LABELS[type];
  if (label) return label;
  const words = type.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

/** The participant that emits an event type ('' when unknown). */
export const eventParticipant = (type: string): string => EVENT_PARTICIPANTS[type] ?? '';

export const genderWord = (gender: string): string =>
  ({ female: 'Female', male: 'Male', other: 'Other' })[gender] ?? gender;

/** Who a service is for, as the catalogue shows it. */
export const serviceForWord = (gender: string): string =>
  ({ all: 'Everyone', female: 'Women', male: 'Men' })[gender] ?? gender;

/** The message beside a field: the first error naming it, or null. */
export const fieldError = (errors: readonly FormError[] | undefined, field: string): string | null =>
  errors?.find((error) => error.field === field)?.message ?? null;

/** A form error: `field` is the id of the control it belongs to (the summary links to it). */
export interface FormError {
  field: string | null;
  message: string;
}

export const viewHelpers = {
  rupees,
  istDay,
  istTime,
  istDateTime,
  slotTime,
  lastReschedule,
  appointmentTime,
  fillRateText,
  calendarDate,
  duration,
  statusWord,
  eventLabel,
  eventParticipant,
  genderWord,
  serviceForWord,
  fieldError,
};
