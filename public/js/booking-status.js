// The status page: polls the booking's status until it is final and redraws what changed. New steps
// are announced through a live region; focus stays where the patient is.
import { getJson } from './api.js';
import { appointmentTime, eventLabel, istDay, istTime, lastReschedule, TERMINAL_STATUSES } from './format.js';
import { el, poll, priceBreakdown, setBadge, timelineItems } from './render.js';

const root = document.getElementById('booking');
// A confirmed booking being cancelled or moved is still changing: watch it until that is settled.
const settled = (status, change) => TERMINAL_STATUSES.includes(status) && !change;
if (root && !settled(root.dataset.status, root.dataset.change)) {
  let seen = root.querySelectorAll('.timeline li').length;
  poll(async () => {
    const { status, body } = await getJson(`/api/bookings/${root.dataset.id}/status`);
    // Logged out or gone: nothing more to show here.
    if (status === 401 || status === 404) return false;
    if (status !== 200) return true;
    show(body.booking);
    return !settled(body.booking.status, body.booking.change);
  });

  function show(booking) {
    const change = booking.change ?? '';
    if (booking.status !== root.dataset.status || change !== root.dataset.change) {
      root.dataset.status = booking.status;
      root.dataset.change = change;
      setBadge(root.querySelector('[role="status"]'), booking.status);
      root.querySelector('.outcome').replaceChildren(outcome(booking));
      actions(booking);
      const appointment = root.querySelector('.appointment');
      if (appointment) {
        appointment.textContent = booking.appointment
          ? appointmentTime(booking.appointment.start)
          : 'Walk-in (no set time)';
      }
    }
    if (booking.events.length !== seen) {
      const fresh = booking.events.slice(seen);
      seen = booking.events.length;
      root.querySelector('.timeline').replaceChildren(...timelineItems(booking.events));
      root.querySelector('#announcer').textContent = fresh
        .map((event) => `${eventLabel(event.type)} at ${istTime(event.occurredAt)} IST.`)
        .join(' ');
    }
    const pricing = root.querySelector('.pricing');
    if (booking.pricing && pricing.hidden) {
      pricing
        .querySelector('.pricing-body')
        .replaceChildren(priceBreakdown(booking.services, booking.pricing));
      pricing.hidden = false;
    }
  }

  /** views/partials/booking-actions.ejs */
  function actions(booking) {
    const box = root.querySelector('.booking-actions');
    if (!box) return;
    // A moved booking's changes close before its new appointment.
    const cutoffMs = Number(box.dataset.cutoffMinutes) * 60_000;
    const until =
      booking.appointment && Number.isFinite(cutoffMs)
        ? Date.parse(booking.appointment.start) - cutoffMs
        : Date.parse(box.dataset.cancellableUntil);
    box.querySelector('.receipt-link').hidden = !['CONFIRMED', 'CANCELLED'].includes(booking.status);
    const changeable = booking.status === 'CONFIRMED' && !booking.change && Date.now() < until;
    box.querySelector('.cancel-link').hidden = !changeable;
    const reschedule = box.querySelector('.reschedule-link');
    if (reschedule) reschedule.hidden = !changeable;
  }

  /** views/partials/booking-outcome.ejs */
  function outcome(booking) {
    if (booking.status === 'CONFIRMED' && booking.change === 'cancelling') {
      return el(
        'p',
        { class: 'notice' },
        'We are cancelling your booking and refunding the payment. This page updates by itself.',
      );
    }
    if (booking.status === 'CONFIRMED' && booking.change === 'rescheduling') {
      const to = booking.rescheduleTo
        ? ` to ${istDay(booking.rescheduleTo)}, ${istTime(booking.rescheduleTo).slice(0, 5)} IST`
        : '';
      return el('p', { class: 'notice' }, `We are moving your visit${to}. This page updates by itself.`);
    }
    const moved = booking.status === 'CONFIRMED' ? lastReschedule(booking.events) : null;
    if (moved === 'RescheduleRejected') {
      return el(
        'p',
        { class: 'notice notice--bad' },
        'That time was no longer available, so your booking keeps its time. You can choose another time.',
      );
    }
    if (moved === 'BookingRescheduled') {
      return el('p', { class: 'notice' }, 'Your visit has moved. An updated calendar invite has been sent.');
    }
    switch (booking.status) {
      case 'CONFIRMED':
        return el(
          'p',
          { class: 'notice' },
          'Your booking is confirmed and paid. A confirmation has been sent.',
        );
      case 'CANCELLED':
        return el(
          'p',
          { class: 'notice' },
          'This booking was cancelled.',
          booking.reason ? ` ${booking.reason}` : '',
        );
      case 'REJECTED':
      case 'FAILED': {
        const notice = el(
          'p',
          { class: 'notice notice--bad' },
          booking.status === 'REJECTED' ? 'Your booking was rejected' : 'Your booking failed',
          ': ',
          el('span', { class: 'reason' }, booking.reason ?? ''),
        );
        const slotTaken =
          booking.status === 'REJECTED' && booking.events.some((event) => event.type === 'SlotRejected');
        if (!slotTaken) return notice;
        const again = el(
          'div',
          { class: 'actions book-again' },
          el('a', { class: 'button', href: `/bookings/${booking.id}/book-again` }, 'Choose another time'),
          ' ',
          el('span', { class: 'hint' }, 'Your entries and services are kept.'),
        );
        const both = document.createDocumentFragment();
        both.append(notice, again);
        return both;
      }
      default:
        return el('p', { class: 'notice' }, 'We are working on your booking. This page updates by itself.');
    }
  }
}
