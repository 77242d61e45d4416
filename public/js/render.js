// DOM twins of the shared partials (views/partials/*.ejs) for pages that update without a reload.
// Built with textContent only: no user-supplied text is ever parsed as HTML.
import { duration, eventLabel, istTime, rupees, statusWord } from './format.js';

/** Creates an element with attributes and children (strings become text). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return node;
}

/** views/partials/status-badge.ejs: the word, with colour and mark from the class. */
export function setBadge(badge, status) {
  badge.className = `badge badge--${status.toLowerCase()}`;
  badge.textContent = statusWord(status);
}

/** views/partials/price-breakdown.ejs */
export function priceBreakdown(services, pricing, { expected = false } = {}) {
  const row = (label, amount, className) =>
    el('tr', { class: className }, el('th', { scope: 'row' }, label), el('td', { class: 'num' }, amount));
  return el(
    'table',
    { class: 'breakdown' },
    el('caption', {}, expected ? 'Expected price' : 'Price'),
    el(
      'thead',
      {},
      el('tr', {}, el('th', { scope: 'col' }, 'Item'), el('th', { scope: 'col', class: 'num' }, 'Amount')),
    ),
    el(
      'tbody',
      {},
      services.map((service) =>
        row(service.name, service.pricePaise === null ? '—' : rupees(service.pricePaise)),
      ),
    ),
    el(
      'tfoot',
      {},
      row('Base price', rupees(pricing.basePaise)),
      pricing.discountPaise > 0
        ? row(
            `${expected ? 'Expected discount' : 'Discount'} (${pricing.discountPercent}%)`,
            `−${rupees(pricing.discountPaise)}`,
            'discount',
          )
        : null,
      row('Total', rupees(pricing.finalPaise), 'total'),
    ),
  );
}

/** The items of views/partials/saga-timeline.ejs. */
export function timelineItems(events) {
  return events.map((event, i) => {
    const gapMs = i === 0 ? null : new Date(event.occurredAt) - new Date(events[i - 1].occurredAt);
    return el(
      'li',
      { 'data-type': event.type },
      el('span', { class: 'timeline__label' }, eventLabel(event.type)),
      ' ',
      el('time', { datetime: event.occurredAt }, `${istTime(event.occurredAt)} IST`),
      gapMs === null ? null : ' ',
      gapMs === null ? null : el('span', { class: 'timeline__gap' }, `${duration(gapMs)} later`),
    );
  });
}

/** Polls `tick` with backoff: fast at first, slower later, capped; paused while the tab is hidden. */
export function poll(tick, { firstMs = 500, factor = 1.6, maxMs = 5000 } = {}) {
  let delayMs = firstMs;
  let timer = null;
  let stopped = false;
  let busy = false;
  const run = async () => {
    timer = null;
    if (stopped || document.hidden) return;
    busy = true;
    // A failed request (offline, a restart) is tried again later, like a pending answer.
    const more = await tick().catch(() => true);
    busy = false;
    if (!more) {
      stopped = true;
      return;
    }
    delayMs = Math.min(delayMs * factor, maxMs);
    schedule();
  };
  const schedule = () => {
    if (!stopped && !document.hidden && timer === null) timer = setTimeout(run, delayMs);
  };
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else if (!stopped && timer === null && !busy) {
      // Back in view: look at once, then back off from the start again.
      delayMs = firstMs;
      timer = setTimeout(run, 0);
    }
  });
  schedule();
}
