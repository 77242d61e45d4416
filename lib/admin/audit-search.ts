import { sql } from 'kysely';
import type { AuditEntry } from '../audit/audit-queries.js';
import type { Db } from '../db/database.js';
import { ValidationError } from '../errors.js';
import { COUNT_CAP, type Page } from './booking-search.js';

export interface AuditSearch {
  type?: string | undefined;
  actor?: string | undefined;
  bookingId?: string | undefined;
  correlationId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** The id of the last entry of the previous page. */
  after?: number | undefined;
  limit: number;
}

/** The audit trail newest first, a page at a time (keyset on at, id), with a capped count. */
export async function searchAuditEntries(db: Db, search: AuditSearch): Promise<Page<AuditEntry>> {
  let query = db.selectFrom('audit.entries');
  if (search.type) query = query.where('type', '=', search.type);
  if (search.actor) query = query.where('actor', '=', search.actor);
  if (search.bookingId) query = query.where('booking_id', '=', search.bookingId);
  if (search.correlationId) query = query.where('correlation_id', '=', search.correlationId);
  if (search.from) query = query.where('at', '>=', search.from);
  if (search.to) query = query.where('at', '<=', search.to);

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
    .selectAll()
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(search.limit + 1);
  if (search.after !== undefined) {
    const cursor = await db
      .selectFrom('audit.entries')
      .select('id')
      .where('id', '=', search.after)
      .executeTakeFirst();
    if (!cursor)
      throw new ValidationError('This page no longer exists.', [{ path: 'after', message: 'unknown' }]);
    // Compared in the database: a JS Date would drop the timestamp's microseconds and skip rows.
    page = page.where(sql<boolean>`(at, id) < (SELECT at, id FROM audit.entries WHERE id = ${cursor.id})`);
  }
  const rows = await page.execute();
  const items = rows.slice(0, search.limit).map((row) => ({
    id: row.id,
    at: row.at.toISOString(),
    type: row.type,
    actor: row.actor,
    bookingId: row.booking_id,
    correlationId: row.correlation_id,
    data: row.data,
  }));
  return {
    items,
    total: Math.min(Number(counted.count), COUNT_CAP),
    totalIsLowerBound: Number(counted.count) > COUNT_CAP,
    next: rows.length > search.limit ? String(items[items.length - 1]!.id) : null,
  };
}

/** The distinct types in the trail, for the filter's choices (cheap: the counters hold them). */
export async function auditTypes(db: Db): Promise<string[]> {
  const rows = await sql<{ type: string }>`
    SELECT DISTINCT type FROM stats.event_types
    UNION SELECT unnest(${['AdminConfigUpdated', 'AdminServiceCreated', 'AdminServiceUpdated', 'DeadLetterReplayed']}::text[])
    ORDER BY type`.execute(db);
  return rows.rows.map((row) => row.type);
}
