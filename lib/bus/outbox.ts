import { sql } from 'kysely';
import type { Db, Trx } from '../db/database.js';
import { streamOf, type Event } from '../events/catalogue.js';

/** The channel relays LISTEN on. */
export const OUTBOX_CHANNEL = 'bus_outbox';

/**
 * Writes events in the caller's transaction: they are published only if the state change commits.
 * (Given the pool instead, the insert is a transaction of its own, for a producer that only emits.)
 */
export async function appendToOutbox(trx: Trx | Db, events: readonly Event[]): Promise<void> {
  if (events.length === 0) return;
  await trx
    .insertInto('bus.outbox')
    .values(
      events.map((event) => ({
        stream: streamOf(event.type),
        event_id: event.eventId,
        payload: JSON.stringify(event),
      })),
    )
    .execute();
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
