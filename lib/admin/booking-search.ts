import { sql, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import { getBookingViews, type BookingView } from '../booking/booking-service.js';
import { addDays } from '../clock.js';
import type { Db } from '../db/database.js';
import type { BookingStatus, Database } from '../db/schema.js';
import { ValidationError } from '../errors.js';

export interface BookingSearch {
  status?: BookingStatus | undefined;
  /** A reference or its beginning, any case. */
  reference?: string | undefined;
  /** Part of the patient's name, any case. */
  patientName?: string | undefined;
  /** Reference, name or email containing it, or the exact booking or correlation id. */
  q?: string | undefined;
  /** IST calendar dates, both included. */
  from?: string | undefined;
  to?: string | undefined;
  /** The id of the last booking of the previous page. */
  after?: string | undefined;
  limit: number;
}

export interface Page<T> {
  items: T[];
  /** Rows matching the filters, counted up to COUNT_CAP. */
  total: number;
  totalIsLowerBound: boolean;
  /** Pass as `after` for the next page; null on the last page. */
  next: string | null;
}

/** Counting stops here: an exact count of a million rows would cost a scan on every page. */
export const COUNT_CAP = 10_000;

/** How PostgreSQL prints a uuid: what `id::text = q` matched. */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const like = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);
const istMidnight = (date: string) => new Date(`${date}T00:00:00+05:30`);

/** The text the trigram index of migration 0010 holds: a row containing q in any part contains it here. */
const SEARCHED_TEXT = sql<string>`(reference || ' ' || patient_name || ' ' || patient_email)`;

/** Bookings newest first, a page at a time (keyset on created_at, id: page n costs what page 1 costs). */
export async function searchBookings(db: Db, search: BookingSearch): Promise<Page<BookingView>> {
  let query = db.selectFrom('booking.bookings');
  if (search.status) query = query.where('status', '=', search.status);
  if (search.reference) query = query.where('reference', 'like', `${like(search.reference.toUpperCase())}%`);
  if (search.patientName) {
    const pattern = `%${like(search.patientName)}%`;
    query = query.where(SEARCHED_TEXT, 'ilike', pattern).where('patient_name', 'ilike', pattern);
  }
  if (search.q) {
    const q = search.q;
    const pattern = `%${like(q)}%`;
    query = query.where((eb) =>
      eb.or([
        // The index narrows to the rows containing q somewhere; the columns decide.
        eb.and([
          eb(SEARCHED_TEXT, 'ilike', pattern),
          eb.or([
            eb('reference', 'ilike', pattern),
            eb('patient_name', 'ilike', pattern),
            eb('patient_email', 'ilike', pattern),
          ]),
        ]),
        // Typed comparisons (not id::text = q), so that each has its index.
        ...(CANONICAL_UUID.test(q) ? [eb('correlation_id', '=', q), eb('id', '=', q)] : []),
      ]),
    );
  }
  if (search.from) query = query.where('created_at', '>=', istMidnight(search.from));
  if (search.to) query = query.where('created_at', '<', istMidnight(addDays(search.to, 1)));

  let afterCursor = sql<boolean>`true`;
  if (search.after) {
    const cursor = await db
      .selectFrom('booking.bookings')
      .select('id')
      .where('id', '=', search.after)
      .executeTakeFirst();
    if (!cursor)
      throw new ValidationError('This page no longer exists.', [{ path: 'after', message: 'unknown' }]);
    // Compared in the database: a JS Date would drop the timestamp's microseconds and skip rows.
    afterCursor = sql<boolean>`(created_at, id) < (SELECT created_at, id FROM booking.bookings WHERE id = ${cursor.id})`;
  }

  const text = search.q || search.patientName ? await textSearch(db, query, afterCursor, search.limit) : null;
  const count = text?.count ?? (await countMatching(db, query));
  const rows =
    text?.ids ??
    (
      await query
        .select(['id'])
        .where(afterCursor)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(search.limit + 1)
        .execute()
    ).map((row) => row.id);

  const ids = rows.slice(0, search.limit);
  const views = new Map(
    (await getBookingViews(db, { ids, limit: ids.length })).map((view) => [view.id, view]),
  );
  return {
    items: ids.flatMap((id) => views.get(id) ?? []),
    total: Math.min(count, COUNT_CAP),
    totalIsLowerBound: count > COUNT_CAP,
    next: rows.length > search.limit ? (ids[ids.length - 1] ?? null) : null,
  };
}

type BookingsQuery = SelectQueryBuilder<Database, 'booking.bookings', object>;

/** The rows matching, counted up to COUNT_CAP + 1. */
async function countMatching(db: Db, query: BookingsQuery): Promise<number> {
  const counted = await db
    .selectFrom(
      query
        .select(sql`1`.as('one'))
        .limit(COUNT_CAP + 1)
        .as('matching'),
    )
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(counted.count);
}

/**
 * A text search's count and page from one read of its matches (the index scan is what costs); the page
 * is null when there are more than COUNT_CAP matches, as it may lie beyond the ones read.
 */
async function textSearch(
  db: Db,
  query: BookingsQuery,
  afterCursor: RawBuilder<boolean>,
  limit: number,
): Promise<{ count: number; ids: string[] | null }> {
  const { rows } = await sql<{ count: string; ids: string[] | null }>`
    WITH matching AS MATERIALIZED (${query.select(['id', 'created_at']).limit(COUNT_CAP + 1)})
    SELECT (SELECT count(*) FROM matching) AS count,
      (SELECT array_agg(id ORDER BY created_at DESC, id DESC) FROM (
        SELECT id, created_at FROM matching WHERE ${afterCursor}
        ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}) AS page) AS ids`.execute(db);
  const count = Number(rows[0]!.count);
  return { count, ids: count > COUNT_CAP ? null : (rows[0]!.ids ?? []) };
}
