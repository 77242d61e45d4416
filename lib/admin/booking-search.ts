import { sql } from 'kysely';
import { getBookingViews, type BookingView } from '../booking/booking-service.js';
import { addDays } from '../clock.js';
import type { Db } from '../db/database.js';
import type { BookingStatus } from '../db/schema.js';
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

/** Bookings newest first, a page at a time (keyset on created_at, id: page n costs what page 1 costs). */
export async function searchBookings(db: Db, search: BookingSearch): Promise<Page<BookingView>> {
  let query = db.selectFrom('booking.bookings');
  if (search.status) query = query.where('status', '=', search.status);
  if (search.reference) query = query.where('reference', 'like', `${like(search.reference.toUpperCase())}%`);
  if (search.patientName) query = query.where('patient_name', 'ilike', `%${like(search.patientName)}%`);
  if (search.q) {
    const q = search.q;
    query = query.where((eb) =>
      eb.or([
        eb('reference', 'ilike', `%${like(q)}%`),
        eb('patient_name', 'ilike', `%${like(q)}%`),
        eb('patient_email', 'ilike', `%${like(q)}%`),
        // Typed comparisons (not id::text = q) so each term has its index and the OR is a bitmap of them.
        ...(CANONICAL_UUID.test(q) ? [eb('correlation_id', '=', q), eb('id', '=', q)] : []),
      ]),
    );
  }
  if (search.from) query = query.where('created_at', '>=', istMidnight(search.from));
  if (search.to) query = query.where('created_at', '<', istMidnight(addDays(search.to, 1)));

  const counted = await db
    .selectFrom(
      query
        .select(sql`1`.as('one'))
        .limit(COUNT_CAP + 1)
        .as('matching'),
    )
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow();

  let page = query
    .select(['id'])
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(search.limit + 1);
  if (search.after) {
    const cursor = await db
      .selectFrom('booking.bookings')
      .select('id')
      .where('id', '=', search.after)
      .executeTakeFirst();
    if (!cursor)
      throw new ValidationError('This page no longer exists.', [{ path: 'after', message: 'unknown' }]);
    // Compared in the database: a JS Date would drop the timestamp's microseconds and skip rows.
    page = page.where(
      sql<boolean>`(created_at, id) < (SELECT created_at, id FROM booking.bookings WHERE id = ${cursor.id})`,
    );
  }
  const rows = await page.execute();
  const ids = rows.slice(0, search.limit).map((row) => row.id);
  const views = new Map(
    (await getBookingViews(db, { ids, limit: ids.length })).map((view) => [view.id, view]),
  );
  const total = Math.min(Number(counted.count), COUNT_CAP);
  return {
    items: ids.flatMap((id) => views.get(id) ?? []),
    total,
    totalIsLowerBound: Number(counted.count) > COUNT_CAP,
    next: rows.length > search.limit ? (ids[ids.length - 1] ?? null) : null,
  };
}
