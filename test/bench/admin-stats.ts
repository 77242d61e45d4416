// Benchmark of the admin dashboard's figures at scale: `tsx test/bench/admin-stats.ts [bookings]`
// (default 1,000,000). Uses its own database and Redis prefix (createTestEnvironment), dropped at the end.
//
// Writes the bookings (spread over the last 30 days, 90 % finished) and five audit events each through
// the counting triggers, then times, over 30 calls each: the dashboard's figures from the counters
// (dashboardStats), and the scans they replace (bookings GROUP BY status, events GROUP BY type, saga
// p50/p95 over the last hour). Medians in ms. Also how long the triggers made the bulk inserts take.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { dashboardStats } from '../../lib/admin/dashboard-stats.js';
import { createRedis } from '../../lib/bus/redis.js';
import { systemClock } from '../../lib/clock.js';
import { createDb } from '../../lib/db/database.js';
import { migrateToLatest } from '../../lib/db/migrate.js';
import { logger } from '../../lib/logger.js';
import { createTestEnvironment } from '../support/test-env.js';

const bookings = Number(process.argv[2] ?? 1_000_000);
const CALLS = 30;
// Rows per statement (one transaction each): the participants commit a few dozen rows at a time, and one
// huge transaction updating a counter row thousands of times is far slower than what they do.
const BATCH = 500;

async function medianMs(work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const started = process.hrtime.bigint();
    await work();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length / 2)]! * 10) / 10;
}

async function main(): Promise<void> {
  logger.level = 'error';
  const environment = await createTestEnvironment();
  const db = createDb(environment.databaseUrl, 4);
  const redis = createRedis(environment.redisUrl, 'web', 'bench:admin-stats');
  try {
    await migrateToLatest(db);
    const started = Date.now();
    for (let offset = 0; offset < bookings; offset += BATCH) {
      const count = Math.min(BATCH, bookings - offset);
      await sql`
        INSERT INTO booking.bookings (id, reference, user_id, status, correlation_id, patient_name, patient_gender,
          patient_date_of_birth, patient_phone, patient_email, request_hash, deadline_at, created_at, finished_at)
        SELECT gen_random_uuid(), 'MC-' || lpad(to_hex(${offset} + n), 9, '0'), ${randomUUID()}::uuid,
          (ARRAY['CONFIRMED', 'CONFIRMED', 'CONFIRMED', 'REJECTED', 'FAILED', 'PENDING'])[1 + n % 6],
          gen_random_uuid(), 'Patient ' || n, 'female', '1990-01-01', '9876543210', 'p@example.com', 'bench',
          now() + interval '2 minutes', now() - (n % 43200) * interval '1 minute',
          CASE WHEN n % 6 = 5 THEN NULL ELSE now() - (n % 43200) * interval '1 minute' + interval '800 milliseconds' END
        FROM generate_series(1, ${count}) AS n`.execute(db);
      await sql`
        INSERT INTO audit.entries (at, type, actor, event_id, data)
        SELECT now() - (n % 43200) * interval '1 minute',
          (ARRAY['BookingRequested', 'PricingCalculated', 'DiscountQuotaSkipped', 'PaymentCompleted', 'BookingConfirmed'])[1 + n % 5],
          'system', gen_random_uuid(), '{}'
        FROM generate_series(1, ${count * 5}) AS n`.execute(db);
      if ((offset + count) % 50_000 === 0) process.stderr.write(`  … ${offset + count} bookings written\n`);
    }
    const writeSeconds = (Date.now() - started) / 1000;
    await sql`ANALYZE`.execute(db);
    const deps = { db, redis, prefix: environment.redisPrefix, clock: systemClock };
    const fromCounters = await medianMs(() => dashboardStats(deps));
    const scans = await medianMs(() =>
      Promise.all([
        sql`SELECT status, count(*) FROM booking.bookings GROUP BY status`.execute(db),
        sql`SELECT type, count(*) FROM audit.entries WHERE event_id IS NOT NULL GROUP BY type`.execute(db),
        sql`SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY finished_at - created_at),
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY finished_at - created_at)
            FROM booking.bookings WHERE finished_at > now() - interval '1 hour'`.execute(db),
      ]),
    );
    process.stdout.write(
      `${JSON.stringify({
        bookings,
        auditEvents: bookings * 5,
        writeSecondsWithTriggers: writeSeconds,
        dashboardFromCountersMedianMs: fromCounters,
        equivalentScansMedianMs: scans,
      })}\n`,
    );
  } finally {
    await redis.quit();
    await db.destroy();
    await environment.drop();
  }
}

await main();
