// The dashboard: polls /api/admin/stats, updates the counts and draws the two charts (chart.js, served
// by the app as /vendor/chart.js). Polling pauses while the tab is hidden and backs off on errors.
import { duration, fillRateText, istTime } from './format.js';

const INTERVAL_MS = 5000;
const MAX_INTERVAL_MS = 60000;
const Chart = globalThis.Chart;

const cell = (name) => document.querySelector(`[data-stat="${name}"]`);
const minuteLabel = (iso) => istTime(iso).slice(0, 5);

function rows(body, values) {
  body.replaceChildren(
    ...values.map((cells) => {
      const tr = document.createElement('tr');
      for (const [text, numeric, asCode] of cells) {
        const td = document.createElement('td');
        if (numeric) td.className = 'num';
        if (asCode) {
          const code = document.createElement('code');
          code.textContent = text;
          td.append(code);
        } else td.textContent = text;
        tr.append(td);
      }
      return tr;
    }),
  );
}

function lineChart(canvas, datasets, yTitle) {
  return new Chart(canvas, {
    type: 'line',
    data: { labels: [], datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: { y: { beginAtZero: true, title: { display: true, text: yTitle } } },
    },
  });
}

const throughput = lineChart(
  document.getElementById('throughput-chart'),
  [
    { label: 'Requested', data: [], borderColor: '#0b6e69', backgroundColor: '#0b6e69' },
    { label: 'Confirmed', data: [], borderColor: '#1b6b2f', backgroundColor: '#1b6b2f' },
    { label: 'Rejected or failed', data: [], borderColor: '#a4262c', backgroundColor: '#a4262c' },
  ],
  'bookings',
);
const latency = lineChart(
  document.getElementById('latency-chart'),
  [
    { label: 'p50', data: [], borderColor: '#0b6e69', backgroundColor: '#0b6e69', spanGaps: true },
    { label: 'p95', data: [], borderColor: '#7a4b00', backgroundColor: '#7a4b00', spanGaps: true },
  ],
  'milliseconds',
);

function show(stats) {
  for (const [status, count] of Object.entries(stats.bookingsByStatus)) {
    const element = cell(`status.${status}`);
    if (element) element.textContent = String(count);
  }
  cell('at').textContent = `Updated ${istTime(stats.at)} IST`;
  cell('quota').textContent = `${stats.quota.used} used of ${stats.quota.limit}`;
  cell('fill-rate').textContent = fillRateText(stats.appointments);
  const { p50Ms, p95Ms } = stats.sagaLatency;
  cell('latency').textContent =
    `${p50Ms === null ? '—' : duration(p50Ms)} / ${p95Ms === null ? '—' : duration(p95Ms)}`;
  cell('outbox').textContent = String(stats.outboxBacklog);
  cell('dead-letters').textContent = String(stats.deadLetters);
  rows(
    cell('lag'),
    stats.streamLag.map((row) => [
      [row.stream],
      [row.group],
      [String(row.lag), true],
      [String(row.pending), true],
    ]),
  );
  rows(
    cell('events'),
    Object.keys(stats.eventsByType)
      .sort()
      .map((type) => [
        [type, false, true],
        [String(stats.eventsByType[type]), true],
      ]),
  );

  const labels = stats.perMinute.map((minute) => minuteLabel(minute.minute));
  const finished = (minute, ...statuses) =>
    statuses.reduce((sum, status) => sum + (minute.finished[status] ?? 0), 0);
  throughput.data.labels = labels;
  throughput.data.datasets[0].data = stats.perMinute.map((minute) => minute.requested);
  throughput.data.datasets[1].data = stats.perMinute.map((minute) => finished(minute, 'CONFIRMED'));
  throughput.data.datasets[2].data = stats.perMinute.map((minute) => finished(minute, 'REJECTED', 'FAILED'));
  throughput.update();
  latency.data.labels = labels;
  latency.data.datasets[0].data = stats.perMinute.map((minute) => minute.p50Ms);
  latency.data.datasets[1].data = stats.perMinute.map((minute) => minute.p95Ms);
  latency.update();
  document.body.dataset.statsAt = stats.at;
}

let delay = INTERVAL_MS;
let timer = null;

async function refresh() {
  timer = null;
  try {
    const response = await fetch('/api/admin/stats', { headers: { accept: 'application/json' } });
    if (response.status === 401 || response.status === 403) {
      window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
      return;
    }
    if (!response.ok) throw new Error(`stats answered ${response.status}`);
    show(await response.json());
    delay = INTERVAL_MS;
  } catch {
    delay = Math.min(delay * 2, MAX_INTERVAL_MS);
  }
  schedule();
}

function schedule() {
  if (timer === null && !document.hidden) timer = setTimeout(refresh, delay);
}

document.addEventListener('visibilitychange', () => {
  if (document.hidden && timer !== null) {
    clearTimeout(timer);
    timer = null;
  } else if (!document.hidden && timer === null) {
    timer = setTimeout(refresh, 0);
  }
});

refresh();
