import { CompiledQuery, sql } from 'kysely';
import { valuesList, type Db, type Trx } from '../db/database.js';
import { streamOf, type Event } from '../events/catalogue.js';

/** The channel relays LISTEN on. */
export const OUTBOX_CHANNEL = 'bus_outbox';

/**
 * The producer of the rows the web publishes itself right after its commit (a booking request): the
 * relays leave them to it for a grace, as they do a participant's.
 */
export const WEB_PRODUCER = 'web';

/**
 * Writes events in the caller's transaction: they are published only if the state change commits.
 * (Given the pool instead, the insert is a transaction of its own, for a producer that only emits.)
 * `producer` is the consumer group that emitted them while handling their causing event, or the web
 * (WEB_PRODUCER) for what it publishes itself; null: the relays publish them.
 */
export async function appendToOutbox(
  trx: Trx | Db,
  events: readonly Event[],
  producer: string | null = null,
): Promise<void> {
  if (events.length === 0) return;
  await trx.executeQuery(outboxInsert(events, producer));
}

/**
 * The insert of events' outbox rows, unsent (for a transaction that sends it with its COMMIT),
 * compiled by hand: a consumer's hot path (every delivery that emits) spends nothing on building it.
 */
export function outboxInsert(events: readonly Event[], producer: string | null = null): CompiledQuery {
  const rows = outboxRows(events, producer);
  return CompiledQuery.raw(
    `INSERT INTO bus.outbox (stream, event_id, payload, causation_id, producer) VALUES ${valuesList(rows.length, 5)}`,
    rows.flatMap((row) => [row.stream, row.event_id, row.payload, row.causation_id, row.producer]),
  );
}

/** The outbox rows of events, for a producer that writes them within a statement of its own. */
export function outboxRows(events: readonly Event[], producer: string | null = null) {
  return events.map((event) => ({
    stream: streamOf(event.type),
    event_id: event.eventId,
    payload: JSON.stringify(event),
    causation_id: event.causationId,
    producer,
  }));
}

/**
 * Publishes again the events a group emitted when it handled `causationId` (same event ids, so
 * whoever had them skips them): a redelivered event re-drives the steps after it even when Redis
 * lost what it led to. Returns how many rows go out again.
 */
export async function republishCausedBy(
  trx: Trx | Db,
  producer: string,
  causationId: string,
): Promise<number> {
  const result = await trx
    .updateTable('bus.outbox')
    .set({ published_at: null })
    .where('causation_id', '=', causationId)
    .where('producer', '=', producer)
    .where('published_at', 'is not', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Publishes events again by id (a re-drive of work whose next step never came); returns how many. */
export async function republish(trx: Trx | Db, eventIds: readonly string[]): Promise<number> {
  if (eventIds.length === 0) return 0;
  const result = await trx
    .updateTable('bus.outbox')
    .set({ published_at: null })
    .where('event_id', 'in', eventIds)
    .where('published_at', 'is not', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Wakes the relays once a transaction that appended to the outbox has committed. Sent after the commit,
 * on its own: a NOTIFY inside the writing transaction serialises the commits of every such transaction
 * (PostgreSQL holds a database-wide lock from the NOTIFY's queueing to the end of the commit). A lost
 * notification only waits for the relays' next poll.
 */
export async function notifyOutbox(db: Db): Promise<void> {
  await sql`SELECT pg_notify(${OUTBOX_CHANNEL}, '')`.execute(db);
}

/**
 * Deletes inbox rows older than `before`, a batch at a time. The rows of events still in the dead
 * letters stay, so replaying an old dead letter is skipped by every group that had handled it.
 */
export async function pruneInbox(db: Db, before: Date, batch = 5_000): Promise<number> {
  await db.deleteFrom('bus.attempts').where('updated_at', '<', before).execute();
  let deleted = 0;
  for (;;) {
    const result = await sql<{ count: number }>`
      WITH doomed AS (
        SELECT consumer_group, event_id FROM bus.inbox i
        WHERE handled_at < ${before}
          AND NOT EXISTS (SELECT 1 FROM bus.dead_letters d WHERE d.event_id = i.event_id)
        LIMIT ${batch}
      )
      DELETE FROM bus.inbox i USING doomed
      WHERE i.consumer_group = doomed.consumer_group AND i.event_id = doomed.event_id`.execute(db);
    const count = Number(result.numAffectedRows ?? 0);
    deleted += count;
    if (count < batch) return deleted;
  }
}
