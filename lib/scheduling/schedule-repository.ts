import { sql } from 'kysely';
import type { Db, Trx } from '../db/database.js';
import { scheduleSchema, type Schedule } from './slot-rules.js';

export interface VersionedSchedule {
  schedule: Schedule;
  version: number;
  updatedAt: string;
  updatedBy: string | null;
}

/** The advisory lock between reservations (shared) and schedule changes (exclusive). */
const SCHEDULE_LOCK = 73_110_001;

/**
 * The schedule as committed. A reservation reads it under a shared lock and a change under the
 * exclusive one, so a change waits for the reservations in flight and every later reservation sees
 * it. An advisory lock, not FOR SHARE: its queue is fair, so a stream of reservations cannot hold a
 * change off (a row's share lock lets new sharers past a waiting writer).
 */
export async function readSchedule(
  db: Db | Trx,
  lock: 'shared' | 'exclusive' | null = null,
): Promise<VersionedSchedule> {
  if (lock === 'shared') await sql`SELECT pg_advisory_xact_lock_shared(${SCHEDULE_LOCK})`.execute(db);
  if (lock === 'exclusive') await sql`SELECT pg_advisory_xact_lock(${SCHEDULE_LOCK})`.execute(db);
  const row = await db
    .selectFrom('scheduling.schedule')
    .selectAll()
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  return {
    schedule: scheduleSchema.parse({
      slotMinutes: row.slot_minutes,
      capacity: row.capacity,
      hours: row.hours,
      closedDates: row.closed_dates,
    }),
    version: row.version,
    updatedAt: row.updated_at.toISOString(),
    updatedBy: row.updated_by,
  };
}

export async function writeSchedule(
  trx: Trx,
  schedule: Schedule,
  version: number,
  actor: string,
): Promise<void> {
  await trx
    .updateTable('scheduling.schedule')
    .set({
      slot_minutes: schedule.slotMinutes,
      capacity: schedule.capacity,
      hours: JSON.stringify(schedule.hours),
      closed_dates: JSON.stringify(schedule.closedDates),
      version,
      updated_at: sql<Date>`now()`,
      updated_by: actor,
    })
    .where('id', '=', 1)
    .execute();
}

/** Places held per slot start (ms) in [from, to). */
export async function heldPlaces(db: Db | Trx, from: Date, to: Date): Promise<Map<number, number>> {
  const rows = await db
    .selectFrom('scheduling.slots')
    .select(['start', 'held'])
    .where('start', '>=', from)
    .where('start', '<', to)
    .where('held', '>', 0)
    .execute();
  return new Map(rows.map((row) => [row.start.getTime(), row.held]));
}

/**
 * Takes one place with a conditional UPDATE of the slot's row: the row lock serialises concurrent
 * reservations of one slot, so `held` never passes the capacity. Returns the places held after, or null.
 */
export async function takePlace(trx: Trx, start: Date, capacity: number): Promise<number | null> {
  await trx
    .insertInto('scheduling.slots')
    .values({ start, held: 0 })
    .onConflict((conflict) => conflict.doNothing())
    .execute();
  const taken = await trx
    .updateTable('scheduling.slots')
    .set({ held: sql<number>`held + 1` })
    .where('start', '=', start)
    .where('held', '<', capacity)
    .returning('held')
    .executeTakeFirst();
  return taken?.held ?? null;
}

/**
 * Locks the rows of several slots in start order (creating missing ones): a move takes one slot's
 * place and gives another's back, and two moves the opposite way round must not wait on each other.
 */
export async function lockSlots(trx: Trx, starts: Date[]): Promise<void> {
  await trx
    .insertInto('scheduling.slots')
    .values(starts.map((start) => ({ start, held: 0 })))
    .onConflict((conflict) => conflict.doNothing())
    .execute();
  await trx
    .selectFrom('scheduling.slots')
    .select('start')
    .where('start', 'in', starts)
    .orderBy('start')
    .forUpdate()
    .execute();
}

export async function givePlaceBack(trx: Trx, start: Date): Promise<void> {
  await trx
    .updateTable('scheduling.slots')
    .set({ held: sql<number>`held - 1` })
    .where('start', '=', start)
    .execute();
}
