// What the API and foundation integration tests share: an app with sign-up limits fit for a test
// suite, the JSON error shape check, row counts, and a clean-up that keeps one file's writes from
// reaching the saga tests that run later against the same database.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import type { Db } from '../../lib/db/database.js';
import { logger } from '../../lib/logger.js';
import { startTestApp, type TestApp } from './app.js';

type AppOptions = NonNullable<Parameters<typeof startTestApp>[0]>;

/**
 * The real app under a Redis key prefix of its own inside the run's: its sessions and rate-limit
 * counters stay apart from other files' apps (a run's sign-ups all come from one address, and the
 * default limit would soon refuse a later file's). The sign-up and login limits are raised unless
 * a test sets them.
 */
export function startApiApp(options: AppOptions = {}): Promise<TestApp> {
  const env = {
    REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? ''}api-${randomUUID().slice(0, 8)}:`,
    SIGNUP_RATE_LIMIT: '1000',
    LOGIN_RATE_LIMIT: '1000',
    ...options.env,
  };
  return startTestApp({ ...options, env });
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

/** The API's error shape, `{error:{code,message,details?}}`, as JSON and without a stack trace. */
export function expectError(
  res: Answer,
  status: number,
  code?: string,
): { code: string; message: string; details?: unknown } {
  expect(res.status, `status of ${res.text}`).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/json/);
  const body = res.body as { error: { code: string; message: string; details?: unknown } };
  expect(body).to.have.all.keys('error');
  expect(
    Object.keys(body.error).every((key) => ['code', 'message', 'details'].includes(key)),
    res.text,
  ).to.equal(true);
  expect(body.error.code).to.be.a('string').with.length.above(0);
  expect(body.error.message).to.be.a('string').with.length.above(0);
  if (code !== undefined) expect(body.error.code).to.equal(code);
  expect(res.text).not.to.match(/\bat .+\.(ts|js):\d+/);
  return body.error;
}

/** The value of one cookie set by a response, or undefined. */
export function setCookie(res: Answer, name: string): { value: string; attributes: string[] } | undefined {
  const header = res.headers['set-cookie'];
  const lines = Array.isArray(header) ? header : header ? [header] : [];
  for (const line of lines) {
    const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq) === name) return { value: pair.slice(eq + 1), attributes };
  }
  return undefined;
}

/** How many bookings and outbox rows exist: a refused request must leave both unchanged. */
export async function rowCounts(db: Db): Promise<{ bookings: number; outbox: number }> {
  const { rows } = await sql<{ bookings: number; outbox: number }>`
    SELECT (SELECT count(*) FROM booking.bookings) AS bookings, (SELECT count(*) FROM bus.outbox) AS outbox`.execute(
    db,
  );
  return { bookings: Number(rows[0]?.bookings), outbox: Number(rows[0]?.outbox) };
}

/**
 * Marks where the run's database stands; the returned function removes what was written since
 * (bookings of users created since, outbox rows, dead letters, audit entries, services, the settings and
 * the schedule), so that a
 * relay started by a later test file never publishes this file's events to its workers.
 */
export async function trackWrites(db: Db): Promise<() => Promise<void>> {
  const { rows } = await sql<{ at: Date; outbox: number; dead_letters: number; audit: number }>`
    SELECT now() AS at,
           (SELECT coalesce(max(id), 0) FROM bus.outbox) AS outbox,
           (SELECT coalesce(max(id), 0) FROM bus.dead_letters) AS dead_letters,
           (SELECT coalesce(max(id), 0) FROM audit.entries) AS audit`.execute(db);
  const mark = rows[0]!;
  const settings = await db
    .selectFrom('settings.config')
    .selectAll()
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  const schedule = await db
    .selectFrom('scheduling.schedule')
    .selectAll()
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  return async () => {
    await db.transaction().execute(async (trx) => {
      const bookings = trx
        .selectFrom('booking.bookings')
        .select('id')
        .where(
          'user_id',
          'in',
          trx.selectFrom('identity.users').select('id').where('created_at', '>=', mark.at),
        );
      await trx.deleteFrom('booking.timeline').where('booking_id', 'in', bookings).execute();
      await trx.deleteFrom('booking.receipts').where('booking_id', 'in', bookings).execute();
      await trx.deleteFrom('booking.booking_services').where('booking_id', 'in', bookings).execute();
      await trx.deleteFrom('booking.bookings').where('id', 'in', bookings).execute();
      await trx.deleteFrom('bus.outbox').where('id', '>', Number(mark.outbox)).execute();
      await trx.deleteFrom('bus.dead_letters').where('id', '>', Number(mark.dead_letters)).execute();
      await trx.deleteFrom('audit.entries').where('id', '>', Number(mark.audit)).execute();
      await trx.deleteFrom('catalogue.services').where('created_at', '>=', mark.at).execute();
      const { id: _id, ...values } = settings;
      await trx.updateTable('settings.config').set(values).where('id', '=', 1).execute();
      const { id: _scheduleId, hours, closed_dates, ...rest } = schedule;
      await trx
        .updateTable('scheduling.schedule')
        .set({ ...rest, hours: JSON.stringify(hours), closed_dates: JSON.stringify(closed_dates) })
        .where('id', '=', 1)
        .execute();
    });
  };
}

/** Runs `work` with the logger muted, for tests that make the app log an error on purpose. */
export async function quietly<T>(work: () => PromiseLike<T>): Promise<T> {
  const silent = logger.silent;
  logger.silent = true;
  try {
    return await work();
  } finally {
    logger.silent = silent;
  }
}
