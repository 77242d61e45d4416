// Benchmark of the read endpoints as the bookings grow: `npm run bench:scale [-- --json] [-- <bookings>]`
// (default 1,000,000). On a database and Redis prefix of its own (dropped at the end): migrates, seeds the
// demo catalogue, signs a patient up and logs an admin in through the API, then bulk-loads 1,000 bookings
// in SQL (not through the saga: months of history, many patients, their price lines, timelines, audit
// trail and the dashboard's counters), measures each endpoint through the real web process, grows the
// same database to <bookings> and measures again. Figures only: nothing here passes or fails.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import { createDb } from '../../lib/db/database.js';
import { upsertAdmin } from '../../lib/identity/user-service.js';
import { SagaSystem } from '../support/system.js';
import { createTestEnvironment } from '../support/test-env.js';
import { ApiClient, migrateAndSeed, useEnvironment } from './bench-support.js';

const json = process.argv.includes('--json');
const target = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 1_000_000);
const SMALL = 1_000;
const WARM_UP = 30;
const REQUESTS = 300;
const ROUNDS = 3;
/** Bookings per load statement: big enough to be fast, small enough to show progress. */
const CHUNK = 50_000;
/** The measured patient's bookings (the first ones loaded): a typical history, not a million. */
const PATIENT_BOOKINGS = 12;
/** Each bulk patient books this many times over the months. */
const BOOKINGS_PER_PATIENT = 10;
const HISTORY_DAYS = 180;

const progress = (line: string) => {
  if (!json) process.stderr.write(`  … ${line}\n`);
};
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (value: number, digits = 1) => Number(value.toFixed(digits));

const FEMALE = `
  Aadhya Ananya Anjali Deepika Divya Fatima Gauri Isha Kavya Lakshmi Meera Neha Nandini Pooja
  Priya Radhika Riya Sakshi Sanya Shreya Sneha Sunita Swati Tanvi Uma Vidya Zoya Harpreet Bhavana
  Rekha
`
  .trim()
  .split(/\s+/);
const MALE = `
  Aarav Abhishek Aditya Amit Arjun Gaurav Harsh Imran Karan Kunal Manish Mohit Nikhil Pranav Rahul
  Rajesh Rohan Sachin Sandeep Sanjay Siddharth Suresh Tarun Varun Vikram Vivek Yash Gurpreet
  Farhan Dinesh
`
  .trim()
  .split(/\s+/);
const LAST = `
  Agarwal Banerjee Bhat Chatterjee Chaudhary Desai Deshpande Dubey Gupta Iyer Iyengar Jain Joshi
  Kapoor Khan Kulkarni Kumar Malhotra Menon Mehta Mishra Mukherjee Nair Naidu Pandey Patel Pillai
  Rao Reddy Saxena Sen Shah Sharma Shetty Singh Sinha Srivastava Thakur Tiwari Trivedi Varma Verma
  Yadav Gill Sandhu Qureshi Fernandes D’Souza Chauhan Bose
`
  .trim()
  .split(/\s+/);
const FIRST = [...FEMALE, ...MALE];

/** A version-4 shaped UUID from the md5 of a text expression: the API's UUID checks accept it. */
const uuidOf = (text: string) =>
  `(substr(md5(${text}), 1, 12) || '4' || substr(md5(${text}), 14, 3) || '8' || substr(md5(${text}), 18))::uuid`;

/**
 * Per booking n (1, 2, …): every value is a function of n, so the bookings, their lines, timelines and
 * audit rows are written by separate statements that agree without reading each other. `$1` is the
 * first n, `$2` the last, `$3` the measured patient's id, `$4` the anchor time (now, at the start).
 */
const BOOKING_VALUES = `
  FROM generate_series($1::bigint, $2::bigint) AS n,
  LATERAL (SELECT
    (n - 1) / ${BOOKINGS_PER_PATIENT} AS u,
    ${uuidOf(`'booking:' || n`)} AS id,
    ${uuidOf(`'correlation:' || n`)} AS correlation_id,
    (hashint8extended(n, 2) & 2147483647) % 100 AS roll,
    $4::timestamptz - ((hashint8extended(n, 3) & 2147483647) % (${HISTORY_DAYS} * 86400)) * interval '1 second'
      - ((hashint8extended(n, 4) & 1023) * interval '1 millisecond') AS created_at,
    1 + (hashint8extended(n, 5) & 2147483647) % 3 AS line_count,
    (hashint8extended(n, 6) & 2147483647) AS pick
  ) AS b,
  LATERAL (SELECT
    CASE WHEN b.roll < 78 THEN 'CONFIRMED' WHEN b.roll < 85 THEN 'CANCELLED'
         WHEN b.roll < 92 THEN 'FAILED' ELSE 'REJECTED' END AS status,
    CASE WHEN n <= ${PATIENT_BOOKINGS} THEN $3::uuid ELSE ${uuidOf(`'patient:' || b.u`)} END AS user_id
  ) AS s`;

/** The patient's name ($5 first names, $6 last names), varied by patient. */
const NAMES = `
  LATERAL (SELECT 1 + (hashint8extended(b.u, 7) & 2147483647) % ${FIRST.length} AS fi,
    1 + (hashint8extended(b.u, 8) & 2147483647) % ${LAST.length} AS li) AS names,
  LATERAL (SELECT ($5::text[])[names.fi] AS first, ($6::text[])[names.li] AS last, names.fi) AS p`;

/** The saga's steps per final status, in the order they happen. */
const STEPS = `CASE s.status
  WHEN 'CONFIRMED' THEN ARRAY['BookingRequested', 'SlotReserved', 'PricingCalculated', 'DiscountQuotaSkipped',
    'PaymentCompleted', 'BookingConfirmed']
  WHEN 'CANCELLED' THEN ARRAY['BookingRequested', 'SlotReserved', 'PricingCalculated', 'DiscountQuotaSkipped',
    'PaymentCompleted', 'BookingConfirmed', 'CancellationRequested', 'SlotReleased', 'PaymentRefunded',
    'BookingCancelled']
  WHEN 'FAILED' THEN ARRAY['BookingRequested', 'SlotReserved', 'PricingCalculated', 'DiscountQuotaSkipped',
    'PaymentFailed', 'CompensationTriggered', 'SlotReleased', 'BookingFailed']
  ELSE ARRAY['BookingRequested', 'SlotReserved', 'PricingCalculated', 'DiscountQuotaRejected', 'SlotReleased',
    'BookingRejected']
END`;

/** A step's time: the saga's steps a fraction of a second apart, a cancellation days later. */
const STEP_AT = `b.created_at + CASE WHEN step.type IN ('CancellationRequested', 'SlotReleased', 'PaymentRefunded',
  'BookingCancelled') AND s.status = 'CANCELLED' THEN interval '2 days' + step.k * interval '150 milliseconds'
  ELSE step.k * interval '150 milliseconds' END`;

interface Catalogue {
  ids: string[];
  names: string[];
  prices: number[];
}

/** Writes bookings first..last with everything the status view, the lists and the audit log read. */
async function loadBookings(
  client: pg.Client,
  first: number,
  last: number,
  patientId: string,
  anchor: Date,
  catalogue: Catalogue,
): Promise<void> {
  const params = [first, last, patientId, anchor];
  await client.query('BEGIN');
  await client.query(
    `INSERT INTO identity.users (id, email, name, password_hash, role, created_at)
     SELECT DISTINCT ON (b.u) ${uuidOf(`'patient:' || b.u`)}, 'patient' || b.u || '@example.in',
       p.first || ' ' || p.last, 'bulk-loaded: no password', 'user', $4::timestamptz - interval '1 year'
     ${BOOKING_VALUES}, ${NAMES}
     WHERE n > ${PATIENT_BOOKINGS}
     ON CONFLICT DO NOTHING`,
    [...params, FIRST, LAST],
  );
  // Most patients book for themselves; the name is the account holder's, varied by patient.
  await client.query(
    `INSERT INTO booking.bookings (id, reference, user_id, status, reason, correlation_id, patient_name,
       patient_gender, patient_date_of_birth, patient_phone, patient_email, request_hash, quota_outcome,
       quota_released, base_paise, discount_basis_points, discount_paise, final_paise, discount_eligible,
       discount_applied, deadline_at, created_at, updated_at, finished_at, payment_outcome, refunded,
       slot_start, slot_end, slot_outcome, slot_released)
     SELECT b.id, 'MC-' || (SELECT string_agg(CASE WHEN i = 4 THEN '-' ELSE '' END
         || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + (ref.x >> (5 * (7 - i)) & 31)::int, 1), '' ORDER BY i)
         FROM generate_series(0, 7) AS i) AS reference,
       s.user_id, s.status,
       CASE s.status WHEN 'FAILED' THEN 'The payment was declined.'
         WHEN 'REJECTED' THEN 'Daily discount quota reached.' END,
       b.correlation_id, p.first || ' ' || p.last,
       CASE WHEN p.fi <= ${FEMALE.length} THEN 'female' ELSE 'male' END,
       date '1950-01-01' + (b.pick % 25000)::int,
       '+91 9' || lpad(((b.pick * 7) % 1000000000)::text, 9, '0'),
       lower(p.first) || '.' || lower(p.last) || b.u || '@example.in', 'bulk',
       CASE WHEN s.status = 'REJECTED' THEN 'rejected' ELSE 'skipped' END, false,
       price.base, 1200, 0, price.base, false, false,
       b.created_at + interval '2 minutes', b.created_at, b.created_at + interval '900 milliseconds',
       b.created_at + interval '900 milliseconds',
       CASE s.status WHEN 'FAILED' THEN 'failed' WHEN 'REJECTED' THEN NULL ELSE 'completed' END,
       s.status = 'CANCELLED',
       slot.start, slot.start + interval '15 minutes',
       'reserved', s.status <> 'CONFIRMED'
     ${BOOKING_VALUES},
     ${NAMES},
     -- 40 bits per booking, distinct for distinct n (an odd multiplier is a bijection mod 2^40).
     LATERAL (SELECT (n * 725827351) & 1099511627775 AS x) AS ref,
     LATERAL (SELECT sum(($7::int[])[1 + (b.pick + line * 7) % ${catalogue.ids.length}])::int AS base
       FROM generate_series(1, b.line_count) AS line) AS price,
     -- Clinic hours in IST, one to fourteen days after the request.
     LATERAL (SELECT date_trunc('day', b.created_at AT TIME ZONE 'Asia/Kolkata') AT TIME ZONE 'Asia/Kolkata'
       + (1 + b.pick % 14) * interval '1 day' + interval '9 hours'
       + (b.pick % 32) * interval '15 minutes' AS start) AS slot`,
    [...params, FIRST, LAST, catalogue.prices],
  );
  await client.query(
    `INSERT INTO booking.booking_services (booking_id, position, service_id, name, price_paise)
     SELECT b.id, line, ($5::uuid[])[pick], ($6::text[])[pick], ($7::int[])[pick]
     ${BOOKING_VALUES},
     LATERAL generate_series(1, b.line_count) AS line,
     LATERAL (SELECT 1 + (b.pick + line * 7) % ${catalogue.ids.length} AS pick) AS service`.replaceAll(
      '[pick]',
      '[service.pick]',
    ),
    [...params, catalogue.ids, catalogue.names, catalogue.prices],
  );
  await client.query(
    `INSERT INTO booking.timeline (booking_id, event_id, type, occurred_at)
     SELECT b.id, ${uuidOf(`'event:' || n || ':' || step.k`)}, step.type, ${STEP_AT}
     ${BOOKING_VALUES},
     LATERAL unnest(${STEPS}) WITH ORDINALITY AS step(type, k)`,
    params,
  );
  await client.query(
    `INSERT INTO audit.entries (at, type, actor, booking_id, correlation_id, event_id, data)
     SELECT ${STEP_AT}, step.type,
       CASE WHEN step.type = 'CancellationRequested' THEN 'patient' ELSE 'system' END,
       b.id, b.correlation_id, ${uuidOf(`'event:' || n || ':' || step.k`)},
       jsonb_build_object('version', 1, 'causationId', ${uuidOf(`'event:' || n || ':' || (step.k - 1)`)})
     ${BOOKING_VALUES},
     LATERAL unnest(${STEPS}) WITH ORDINALITY AS step(type, k)`,
    params,
  );
  await client.query('COMMIT');
}

/**
 * The dashboard's counters as the triggers of migration 0005 would have left them (the load runs with
 * triggers off: a per-row counter update would make it hours), computed as that migration's backfill does;
 * and the admin search's distinct names and emails that 0011's trigger would have added, as its backfill does.
 */
async function recount(client: pg.Client): Promise<void> {
  await client.query(`
    BEGIN;
    TRUNCATE stats.booking_status, stats.minute_bookings, stats.minute_latency, stats.event_types;
    INSERT INTO stats.booking_status SELECT status, 0, count(*) FROM booking.bookings GROUP BY status;
    INSERT INTO stats.minute_bookings
      SELECT date_trunc('minute', created_at), 'REQUESTED', 0, count(*) FROM booking.bookings
      WHERE created_at > now() - interval '2 days' GROUP BY 1;
    INSERT INTO stats.minute_bookings
      SELECT date_trunc('minute', finished_at), status, 0, count(*) FROM booking.bookings
      WHERE finished_at > now() - interval '2 days' GROUP BY 1, 2;
    INSERT INTO stats.minute_latency
      SELECT date_trunc('minute', finished_at),
             stats.latency_bucket(extract(epoch FROM finished_at - created_at) * 1000), 0, count(*)
      FROM booking.bookings WHERE finished_at > now() - interval '2 days' GROUP BY 1, 2;
    INSERT INTO stats.event_types
      SELECT type, 0, count(*) FROM audit.entries WHERE event_id IS NOT NULL GROUP BY type;
    INSERT INTO booking.search_texts (text)
      SELECT DISTINCT t FROM booking.bookings, LATERAL (VALUES (lower(patient_name)), (lower(patient_email))) AS v(t)
      ON CONFLICT DO NOTHING;
    COMMIT`);
  await client.query('VACUUM ANALYZE');
  // The load's dirty pages written now, not by a checkpoint in the middle of the measurements.
  await client.query('CHECKPOINT');
}

async function grow(
  client: pg.Client,
  from: number,
  to: number,
  patientId: string,
  anchor: Date,
  catalogue: Catalogue,
): Promise<number> {
  const started = Date.now();
  for (let first = from + 1; first <= to; first += CHUNK) {
    const last = Math.min(to, first + CHUNK - 1);
    await loadBookings(client, first, last, patientId, anchor, catalogue);
    if (last < to) progress(`${last.toLocaleString('en-IN')} bookings written`);
  }
  await recount(client);
  return (Date.now() - started) / 1000;
}

interface Endpoint {
  name: string;
  path: string;
  client: ApiClient;
  headers?: Record<string, string>;
}

/** Sequential requests in ms; any answer but 200 stops the run. */
async function time(endpoint: Endpoint, requests: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const res = await endpoint.client.request('GET', endpoint.path, undefined, endpoint.headers);
    await res.arrayBuffer();
    times.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`${endpoint.path} answered ${res.status}`);
  }
  return times;
}

/**
 * p50/p99 in ms per endpoint, after a warm-up. The requests are taken in rounds across the endpoints, so
 * a burst of load from elsewhere on the machine spreads over all of them instead of spoiling one.
 */
async function measureAll(endpoints: Endpoint[]): Promise<Map<string, { p50: number; p99: number }>> {
  for (const endpoint of endpoints) await time(endpoint, WARM_UP);
  const samples = new Map<string, number[]>(endpoints.map(({ name }) => [name, []]));
  for (let pass = 0; pass < ROUNDS; pass++) {
    for (const endpoint of endpoints)
      samples.get(endpoint.name)!.push(...(await time(endpoint, REQUESTS / ROUNDS)));
  }
  return new Map(
    [...samples].map(([name, times]) => {
      times.sort((a, b) => a - b);
      return [name, { p50: round(quantile(times, 0.5), 2), p99: round(quantile(times, 0.99), 2) }];
    }),
  );
}

interface Row {
  endpoint: string;
  small: { p50: number; p99: number };
  large: { p50: number; p99: number };
  ratioP50: number;
  ratioP99: number;
  flat: boolean;
}

function table(rows: Row[], large: number): string {
  const header = [
    'endpoint'.padEnd(34),
    `p50/p99 ms at ${SMALL.toLocaleString('en-IN')}`.padStart(20),
    `p50/p99 ms at ${large.toLocaleString('en-IN')}`.padStart(24),
    'ratio p50/p99'.padStart(14),
    ' flat',
  ].join(' ');
  const lines = rows.map((row) =>
    [
      row.endpoint.padEnd(34),
      `${row.small.p50}/${row.small.p99}`.padStart(20),
      `${row.large.p50}/${row.large.p99}`.padStart(24),
      `${row.ratioP50}/${row.ratioP99}`.padStart(14),
      row.flat ? '  yes' : '  NO',
    ].join(' '),
  );
  return [header, ...lines].join('\n');
}

async function main(): Promise<void> {
  if (!Number.isInteger(target) || target < SMALL * 2)
    throw new Error(`the bookings to grow to must be at least ${SMALL * 2}`);
  const environment = await createTestEnvironment();
  const metricsToken = randomBytes(32).toString('base64url');
  useEnvironment(environment);
  const db = createDb(environment.databaseUrl, 2);
  const client = new pg.Client({ connectionString: environment.databaseUrl });
  let system: SagaSystem | null = null;
  try {
    await client.connect();
    await migrateAndSeed(db);
    progress('starting the web process');
    // Every /metrics scrape computes its figures: the cache would hide what they cost.
    system = await SagaSystem.start({
      processes: ['web'],
      env: { LOG_LEVEL: 'info', METRICS_TOKEN: metricsToken, METRICS_CACHE_MS: '0' },
    });
    const base = system.url!;
    const patient = new ApiClient(base);
    const patientEmail = `scale-patient-${Date.now()}@example.in`;
    await patient.enter('/api/auth/signup', {
      name: 'Kavya Menon',
      email: patientEmail,
      password: 'scale patient 123',
    });
    const admin = {
      email: `scale-admin-${Date.now()}@example.in`,
      password: 'scale admin 123',
      name: 'Admin',
    };
    await upsertAdmin(db, admin);
    const adminClient = new ApiClient(base);
    await adminClient.enter('/api/auth/login', { email: admin.email, password: admin.password });

    const { rows: services } = await client.query<{ id: string; name: string; price_paise: number }>(
      'SELECT id, name, price_paise FROM catalogue.services WHERE active ORDER BY name',
    );
    const catalogue = {
      ids: services.map((s) => s.id),
      names: services.map((s) => s.name),
      prices: services.map((s) => s.price_paise),
    };
    const { rows: users } = await client.query<{ id: string }>(
      'SELECT id FROM identity.users WHERE email = $1',
      [patientEmail],
    );
    const patientId = users[0]!.id;
    const anchor = new Date();
    // Triggers off for the load (superuser): recount() writes the counters and search texts the triggers would have.
    await client.query(`SET session_replication_role = replica; SET synchronous_commit = off;
      SET maintenance_work_mem = '256MB'; SET work_mem = '64MB'`);

    progress(`loading ${SMALL.toLocaleString('en-IN')} bookings`);
    await grow(client, 0, SMALL, patientId, anchor, catalogue);
    // What is measured: one of the patient's bookings, and a booking, patient and correlation of the
    // first thousand (so each search finds the same thing at both sizes).
    const { rows: picked } = await client.query<{
      own: string;
      reference: string;
      name: string;
      correlation_id: string;
    }>(
      `SELECT (SELECT id FROM booking.bookings WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1) AS own,
              reference, lower(patient_name) AS name, correlation_id
       FROM booking.bookings WHERE id = ${uuidOf(`'booking:' || 500`)}`,
      [patientId],
    );
    const pick = picked[0]!;
    const endpoints: Endpoint[] = [
      { name: 'status (patient)', path: `/api/bookings/${pick.own}/status`, client: patient },
      { name: 'history (patient)', path: '/api/bookings', client: patient },
      { name: 'admin bookings', path: '/api/admin/bookings', client: adminClient },
      {
        name: 'admin bookings ?status=FAILED',
        path: '/api/admin/bookings?status=FAILED',
        client: adminClient,
      },
      {
        name: 'admin bookings ?q=<reference>',
        path: `/api/admin/bookings?q=${encodeURIComponent(pick.reference)}`,
        client: adminClient,
      },
      {
        name: 'admin bookings ?q=<name>',
        path: `/api/admin/bookings?q=${encodeURIComponent(pick.name)}`,
        client: adminClient,
      },
      {
        name: 'audit logs ?correlationId=',
        path: `/api/admin/audit-logs?correlationId=${pick.correlation_id}`,
        client: adminClient,
      },
      { name: 'admin stats', path: '/api/admin/stats', client: adminClient },
      {
        name: '/metrics',
        path: '/metrics',
        client: adminClient,
        headers: { authorization: `Bearer ${metricsToken}` },
      },
    ];
    progress(`measuring at ${SMALL.toLocaleString('en-IN')} bookings`);
    const small = await measureAll(endpoints);
    const loadSmall = loadavg()[0]!;

    progress(`growing to ${target.toLocaleString('en-IN')} bookings`);
    const loadSeconds = await grow(client, SMALL, target, patientId, anchor, catalogue);
    const sizes = await client.query<{ bookings: string; timeline: string; audit: string; database: string }>(
      `SELECT (SELECT count(*) FROM booking.bookings) AS bookings, (SELECT count(*) FROM booking.timeline) AS timeline,
              (SELECT count(*) FROM audit.entries) AS audit, pg_size_pretty(pg_database_size(current_database())) AS database`,
    );
    progress(`measuring at ${target.toLocaleString('en-IN')} bookings`);
    const large = await measureAll(endpoints);
    const loadLarge = loadavg()[0]!;

    const rows: Row[] = endpoints.map(({ name }) => {
      const a = small.get(name)!;
      const b = large.get(name)!;
      const ratioP50 = round(b.p50 / a.p50, 2);
      const ratioP99 = round(b.p99 / a.p99, 2);
      return { endpoint: name, small: a, large: b, ratioP50, ratioP99, flat: ratioP50 <= 2 && ratioP99 <= 2 };
    });
    const size = sizes.rows[0]!;
    const summary = {
      bookings: { small: SMALL, large: target },
      rows: { bookings: Number(size.bookings), timeline: Number(size.timeline), audit: Number(size.audit) },
      databaseSize: size.database,
      loadSeconds: round(loadSeconds),
      requestsPerEndpoint: REQUESTS,
      // Other work on the machine shows here: figures taken under a high load are noisier.
      loadAverage1m: { small: round(loadSmall, 2), large: round(loadLarge, 2) },
      endpoints: rows,
      allFlat: rows.every((row) => row.flat),
    };
    if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      process.stdout.write(
        `${table(rows, target)}\n\n${summary.rows.bookings.toLocaleString('en-IN')} bookings, ` +
          `${summary.rows.timeline.toLocaleString('en-IN')} timeline rows, ` +
          `${summary.rows.audit.toLocaleString('en-IN')} audit rows (${summary.databaseSize}), ` +
          `grown in ${summary.loadSeconds} s; ${REQUESTS} sequential requests per endpoint (${ROUNDS} rounds) after ` +
          `${WARM_UP} to warm up; load average ${summary.loadAverage1m.small} then ${summary.loadAverage1m.large}.\n`,
      );
    }
  } finally {
    // The database is dropped even when the web does not stop cleanly.
    try {
      if (system) await system.stop();
    } finally {
      await client.end().catch(() => undefined);
      await db.destroy();
      await environment.drop();
    }
  }
}

await main();
