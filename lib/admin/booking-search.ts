import {
  sql,
  type Expression,
  type ExpressionBuilder,
  type RawBuilder,
  type SelectQueryBuilder,
  type SqlBool,
} from 'kysely';
import { getBookingViews, type BookingView } from '../booking/booking-service.js';
import { REFERENCE_ALPHABET } from '../booking/reference.js';
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

/**
 * More names and emails matching than this (a q of a letter or two) and the search reads the bookings'
 * columns instead, newest first: such a q matches so many bookings that a page of them is met soon.
 */
export const TEXT_CAP = 500;

/** Where a part of a reference can stand: '#' is any character of the alphabet. */
const REFERENCE_SHAPE = 'mc-####-####';
const ALPHABET = REFERENCE_ALPHABET.toLowerCase();

/** The places in a reference at which q (lowercased) could stand. */
function referenceOffsets(q: string): number[] {
  const offsets: number[] = [];
  for (let at = 0; at + q.length <= REFERENCE_SHAPE.length; at++) {
    const fits = [...q].every((c, i) => {
      const expected = REFERENCE_SHAPE[at + i]!;
      return expected === '#' ? c.length === 1 && ALPHABET.includes(c) : c === expected;
    });
    if (fits) offsets.push(at);
  }
  return offsets;
}

type BookingsBuilder = ExpressionBuilder<Database, 'booking.bookings'>;

/**
 * The references containing q: a reference's beginning on the btree (the shared "MC-" would make the
 * trigram scan read every booking), any other part on the trigrams, and none when q cannot be in one.
 */
function referenceContains(eb: BookingsBuilder, q: string, pattern: string): Expression<SqlBool>[] {
  const lowered = q.toLowerCase();
  const offsets = referenceOffsets(lowered);
  if (offsets.length === 0) return [];
  if (offsets.length === 1 && offsets[0] === 0) return [eb('reference', 'like', `${lowered.toUpperCase()}%`)];
  return [eb('reference', 'ilike', pattern)];
}

/**
 * The distinct lowercased names and emails containing the pattern (ILIKE is lower() LIKE lower()), or null
 * when there are more than TEXT_CAP.
 */
async function matchingTexts(db: Db, pattern: string): Promise<string[] | null> {
  const rows = await db
    .selectFrom('booking.search_texts')
    .select('text')
    .where('text', 'like', sql<string>`lower(${pattern})`)
    .limit(TEXT_CAP + 1)
    .execute();
  return rows.length > TEXT_CAP ? null : rows.map((row) => row.text);
}

/** The bookings whose column (lowercased) is one of the texts matched, through its btree. */
const oneOf = (column: 'patient_name' | 'patient_email', texts: string[]) =>
  sql<SqlBool>`lower(${sql.ref(column)}) = ANY(${texts}::text[])`;

/** The patient's name (and email) containing the pattern: through the texts matched, else the columns. */
function patientContains(
  eb: BookingsBuilder,
  texts: string[] | null,
  pattern: string,
  columns: ('patient_name' | 'patient_email')[],
): Expression<SqlBool>[] {
  if (texts === null) return columns.map((column) => eb(column, 'ilike', pattern));
  return texts.length === 0 ? [] : columns.map((column) => oneOf(column, texts));
}

/** Bookings newest first, a page at a time (keyset on created_at, id: page n costs what page 1 costs). */
export async function searchBookings(db: Db, search: BookingSearch): Promise<Page<BookingView>> {
  let query = db.selectFrom('booking.bookings');
  if (search.status) query = query.where('status', '=', search.status);
  if (search.reference) query = query.where('reference', 'like', `${like(search.reference.toUpperCase())}%`);
  if (search.patientName) {
    const pattern = `%${like(search.patientName)}%`;
    const texts = await matchingTexts(db, pattern);
    query = query.where((eb) => eb.or(patientContains(eb, texts, pattern, ['patient_name'])));
  }
  if (search.q) {
    const q = search.q;
    const pattern = `%${like(q)}%`;
    const texts = await matchingTexts(db, pattern);
    query = query.where((eb) =>
      eb.or([
        ...referenceContains(eb, q, pattern),
        ...patientContains(eb, texts, pattern, ['patient_name', 'patient_email']),
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
