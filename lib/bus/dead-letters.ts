import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { Db, Trx } from '../db/database.js';
import type { DeadLettersTable } from '../db/schema.js';
import { NotFoundError, ConflictError } from '../errors.js';

export interface DeadLetter {
  id: number;
  stream: string;
  entryId: string;
  consumerGroup: string;
  eventId: string | null;
  type: string | null;
  payload: unknown;
  error: string;
  deliveries: number;
  createdAt: Date;
  replayedAt: Date | null;
}

export async function listDeadLetters(
  db: Db,
  options: { limit?: number; includeReplayed?: boolean; onlyReplayed?: boolean; group?: string } = {},
): Promise<DeadLetter[]> {
  let query = db
    .selectFrom('bus.dead_letters')
    .selectAll()
    .orderBy('id', 'desc')
    .limit(options.limit ?? 100);
  if (options.onlyReplayed) query = query.where('replayed_at', 'is not', null);
  else if (!options.includeReplayed) query = query.where('replayed_at', 'is', null);
  if (options.group) query = query.where('consumer_group', '=', options.group);
  return (await query.execute()).map(toDeadLetter);
}

function toDeadLetter(row: Selectable<DeadLettersTable>): DeadLetter {
  return {
    id: row.id,
    stream: row.stream,
    entryId: row.entry_id,
    consumerGroup: row.consumer_group,
    eventId: row.event_id,
    type: row.type,
    payload: row.payload,
    error: row.error,
    deliveries: row.deliveries,
    createdAt: row.created_at,
    replayedAt: row.replayed_at,
  };
}

/**
 * Puts a dead letter back on its stream through the outbox. Every group on that stream sees it again;
 * the groups that had handled it skip it by its event id, the one that failed gets a fresh try.
 */
export async function replayDeadLetter(db: Db, id: number): Promise<void> {
  await db.transaction().execute((trx) => replayDeadLetterIn(trx, id));
}

/** replayDeadLetter in the caller's transaction (to record who replayed it with it); returns the letter. */
export async function replayDeadLetterIn(trx: Trx, id: number): Promise<DeadLetter> {
  const letter = await trx
    .selectFrom('bus.dead_letters')
    .selectAll()
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  if (!letter) throw new NotFoundError('No such dead letter.');
  if (letter.replayed_at)
    throw new ConflictError('This dead letter was already replayed.', 'already_replayed');
  if (!letter.event_id)
    throw new ConflictError('This message is not a valid event and cannot be replayed.', 'not_replayable');
  await trx
    .insertInto('bus.outbox')
    .values({
      stream: letter.stream,
      event_id: letter.event_id,
      payload: JSON.stringify(letter.payload),
    })
    .execute();
  const replayed = await trx
    .updateTable('bus.dead_letters')
    .set({ replayed_at: sql<Date>`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toDeadLetter(replayed);
}

/** Replayed dead letters are kept this long; unreplayed ones (an admin has yet to look) are kept. */
const KEEP_REPLAYED_MS = 30 * 24 * 3600_000;
/** At most this many unreplayed dead letters: past it the oldest go (the log has each one's line). */
const MAX_DEAD_LETTERS = 10_000;

export async function capDeadLetters(db: Db): Promise<void> {
  await db
    .deleteFrom('bus.dead_letters')
    .where('replayed_at', '<', new Date(Date.now() - KEEP_REPLAYED_MS))
    .execute();
  await sql`
    DELETE FROM bus.dead_letters WHERE id IN (
      SELECT id FROM bus.dead_letters WHERE replayed_at IS NULL ORDER BY id DESC OFFSET ${MAX_DEAD_LETTERS}
    )`.execute(db);
}
