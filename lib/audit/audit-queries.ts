import { sql } from 'kysely';
import { SAGA_STEP_ORDER } from '../booking/booking-saga.js';
import type { Db } from '../db/database.js';

export interface AuditEntry {
  id: number;
  at: string;
  type: string;
  actor: string;
  bookingId: string | null;
  correlationId: string | null;
  data: unknown;
}

export interface AuditFilter {
  type?: string | undefined;
  actor?: string | undefined;
  correlationId?: string | undefined;
  bookingId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  limit?: number | undefined;
}

/** The audit trail: admin actions and every saga event, newest first (a booking's trace oldest first). */
export async function findAuditEntries(
  db: Db,
  filter: AuditFilter,
  order: 'asc' | 'desc' = 'desc',
): Promise<AuditEntry[]> {
  let query = db
    .selectFrom('audit.entries')
    .selectAll()
    .orderBy('at', order)
    // Events emitted together share a millisecond: such ties follow the saga's order.
    .orderBy(sql`array_position(${[...SAGA_STEP_ORDER]}::text[], type)`, order)
    .orderBy('id', order)
    .limit(filter.limit ?? 200);
  if (filter.type) query = query.where('type', '=', filter.type);
  if (filter.actor) query = query.where('actor', '=', filter.actor);
  if (filter.correlationId) query = query.where('correlation_id', '=', filter.correlationId);
  if (filter.bookingId) query = query.where('booking_id', '=', filter.bookingId);
  if (filter.from) query = query.where('at', '>=', filter.from);
  if (filter.to) query = query.where('at', '<=', filter.to);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: row.id,
    at: row.at.toISOString(),
    type: row.type,
    actor: row.actor,
    bookingId: row.booking_id,
    correlationId: row.correlation_id,
    data: row.data,
  }));
}

export async function countEventsByType(db: Db): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('audit.entries')
    .select(['type', (eb) => eb.fn.countAll<number>().as('count')])
    .where('event_id', 'is not', null)
    .groupBy('type')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.type, Number(row.count)]));
}
