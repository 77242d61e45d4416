// The status page: polls the booking's status until it is final and redraws what changed. New steps
// are announced through a live region; focus stays where the patient is.
import { getJson } from './api.js';
import { eventLabel, istTime, TERMINAL_STATUSES } from './format.js';
import { el, poll, priceBreakdown, setBadge, timelineItems } from './render.js';

const root = document.getElementById('booking');
if (root && !TERMINAL_STATUSES.includes(root.dataset.status)) {
  let seen = root.querySelectorAll('.timeline li').length;
  poll(async () => {
    const { status, body } = await getJson(`/api/bookings/${root.dataset.id}/status`);
    // Logged out or gone: nothing more to show here.
    if (status === 401 || status === 404) return false;
    if (status !== 200) return true;
    show(body.booking);
    return !TERMINAL_STATUSES.includes(body.booking.status);
  });

  function show(booking) {
    if (booking.status !== root.dataset.status) {
      root.dataset.status = booking.status;
      setBadge(root.querySelector('[role="status"]'), booking.status);
      root.querySelector('.outcome').replaceChildren(outcome(booking));
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

  /** views/partials/booking-outcome.ejs */
  function outcome(booking) {
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
      case 'FAILED':
        return el(
          'p',
          { class: 'notice notice--bad' },
          booking.status === 'REJECTED' ? 'Your booking was rejected' : 'Your booking failed',
          ': ',
          el('span', { class: 'reason' }, booking.reason ?? ''),
        );
      default:
        return el('p', { class: 'notice' }, 'We are working on your booking. This page updates by itself.');
    }
  }
}
