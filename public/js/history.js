// History: the pending rows follow their booking's status until none is pending.
import { getJson } from './api.js';
import { rupees, TERMINAL_STATUSES } from './format.js';
import { poll, setBadge } from './render.js';

const pendingRows = () =>
  [...document.querySelectorAll('.history tbody tr')].filter(
    (row) => !TERMINAL_STATUSES.includes(row.dataset.status),
  );

if (pendingRows().length > 0) {
  poll(async () => {
    const { status, body } = await getJson('/api/bookings');
    if (status === 401) return false;
    if (status !== 200) return true;
    const byId = new Map(body.bookings.map((booking) => [booking.id, booking]));
    for (const row of pendingRows()) {
      const booking = byId.get(row.dataset.id);
      if (!booking) continue;
      if (booking.pricing) row.querySelector('.amount').textContent = rupees(booking.pricing.finalPaise);
      if (booking.status !== row.dataset.status) {
        row.dataset.status = booking.status;
        setBadge(row.querySelector('.badge'), booking.status);
      }
    }
    return pendingRows().length > 0;
  });
}
