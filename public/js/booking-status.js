// The status page: polls the booking's status until it is final and redraws what changed. New steps
// are announced through a live region; focus stays where the patient is.
import { getJson } from './api.js';
import { eventLabel, istTime, TERMINAL_STATUSES } from './format.js';
import { el, poll, priceBreakdown, setBadge, timelineItems } from './render.js';

const root = document.getElementById('booking');
// A confirmed booking being cancelled is still changing: watch it until it is cancelled.
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
    const until = Date.parse(box.dataset.cancellableUntil);
    box.querySelector('.receipt-link').hidden = !['CONFIRMED', 'CANCELLED'].includes(booking.status);
    box.querySelector('.cancel-link').hidden =
      booking.status !== 'CONFIRMED' || Boolean(booking.change) || !(Date.now() < until);
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
