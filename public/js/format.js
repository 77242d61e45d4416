// The browser twin of server/views/helpers.ts: rupees (en-IN), IST times, status words, event labels.
const IST_OFFSET_MS = (5 * 60 + 30) * 60 * 1000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const inr = new Intl.NumberFormat('en-IN', { style: 'currency', currency: 'INR' });

const STATUS_WORDS = {
  PENDING: 'Pending',
  CONFIRMED: 'Confirmed',
  REJECTED: 'Rejected',
  FAILED: 'Failed',
  CANCELLED: 'Cancelled',
};

const EVENT_LABELS = {
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

export const TERMINAL_STATUSES = ['CONFIRMED', 'REJECTED', 'FAILED', 'CANCELLED'];

function istParts(at) {
  const d = new Date(new Date(at).getTime() + IST_OFFSET_MS);
  const pad = (n) => String(n).padStart(2, '0');
  return {
    date: `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`,
    time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
  };
}

export const rupees = (paise) => inr.format(paise / 100);
export const istDay = (at) => istParts(at).date;
export const istTime = (at) => istParts(at).time;
export const istDateTime = (at) => {
  const { date, time } = istParts(at);
  return `${date}, ${time} IST`;
};

export const slotTime = (start, end) =>
  `${istParts(start).date}, ${istParts(start).time.slice(0, 5)}–${istParts(end).time.slice(0, 5)} IST`;

const RESCHEDULE_STEPS = ['RescheduleRequested', 'RescheduleRejected', 'BookingRescheduled'];

export const lastReschedule = (events) =>
  events.findLast((event) => RESCHEDULE_STEPS.includes(event.type))?.type ?? null;
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** An appointment's start as patients read it: "Wed 2 Dec 2026, 09:15 IST". */
export const appointmentTime = (at) => {
  const d = new Date(new Date(at).getTime() + IST_OFFSET_MS);
  const { date, time } = istParts(at);
  return `${WEEKDAYS[d.getUTCDay()]} ${date}, ${time.slice(0, 5)} IST`;
};

/** Today's fill rate as the dashboard shows it: "42.2% (38 of 90 places held)". */
export const fillRateText = (day) =>
  day.fillRate === null
    ? `No places offered (closed)${day.held > 0 ? `; ${day.held} held` : ''}`
    : `${Math.round(day.fillRate * 1000) / 10}% (${day.held} of ${day.places} places held)`;

export const duration = (ms) => {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60000) return `${(Math.round(ms / 100) / 10).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
};

export const statusWord = (status) => STATUS_WORDS[status] ?? status;

export const eventLabel = (type) => {
  const label = EVENT_LABELS[type];
  if (label) return label;
  const words = type.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
};
