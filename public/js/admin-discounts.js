// The discounts page: after a save, polls /api/admin/config until pricing, quota and payment all apply
// the saved version, then says when it took effect everywhere. Pauses while the tab is hidden.
import { istDateTime } from './format.js';

const section = document.querySelector('[data-config-version]');
const summary = document.getElementById('applied-summary');
const body = document.getElementById('applied-rows');
const MAX_DELAY_MS = 5000;
let delay = 250;

function show(config) {
  body.replaceChildren(
    ...config.applied.map((participant) => {
      const tr = document.createElement('tr');
      tr.dataset.participant = participant.participant;
      const current = participant.version >= config.version ? ' (current)' : ' (older)';
      for (const [text, numeric] of [
        [participant.participant],
        [`${participant.version}${current}`, true],
        [istDateTime(participant.appliedAt)],
      ]) {
        const td = document.createElement('td');
        td.textContent = text;
        if (numeric) td.className = 'num';
        tr.append(td);
      }
      return tr;
    }),
  );
  const everywhere = config.applied.every((participant) => participant.version >= config.version);
  if (everywhere) {
    const at = config.applied
      .map((participant) => participant.appliedAt)
      .sort()
      .pop();
    summary.textContent = `Version ${config.version} took effect everywhere at ${istDateTime(at)}.`;
  }
  return everywhere;
}

async function poll() {
  if (document.hidden) {
    document.addEventListener('visibilitychange', poll, { once: true });
    return;
  }
  try {
    const response = await fetch('/api/admin/config', { headers: { accept: 'application/json' } });
    if (response.ok && show(await response.json())) return;
  } catch {
    // A failed poll only waits for the next one.
  }
  delay = Math.min(delay * 2, MAX_DELAY_MS);
  setTimeout(poll, delay);
}

if (section && summary && body && !summary.textContent.includes('took effect everywhere')) poll();
