import { replayDeadLetterIn, type DeadLetter } from '../bus/dead-letters.js';
import type { Db, Trx } from '../db/database.js';

/** Where a replayed letter got to: handled by its group, dead-lettered again, or not yet back. */
export type ReplayOutcome = 'handled' | 'dead-lettered again' | 'waiting';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The booking and correlation id a message names, if it names them (an unreadable one may not). */
export function bookingOf(payload: unknown): { bookingId: string | null; correlationId: string | null } {
  const fields = (payload && typeof payload === 'object' ? payload : {}) as Record<string, unknown>;
  const pick = (value: unknown) => (typeof value === 'string' && uuid.test(value) ? value : null);
  return { bookingId: pick(fields.bookingId), correlationId: pick(fields.correlationId) };
}

async function replayAudited(trx: Trx, id: number, actor: string): Promise<DeadLetter> {
  const letter = await replayDeadLetterIn(trx, id);
  const { bookingId, correlationId } = bookingOf(letter.payload);
  await trx
    .insertInto('audit.entries')
    .values({
      at: letter.replayedAt ?? new Date(),
      type: 'DeadLetterReplayed',
      actor,
      booking_id: bookingId,
      correlation_id: correlationId,
      event_id: null,
      data: JSON.stringify({
        deadLetterId: letter.id,
        group: letter.consumerGroup,
        stream: letter.stream,
        eventType: letter.type,
        eventId: letter.eventId,
        error: letter.error,
      }),
    })
    .execute();
  return letter;
}

/** Replays one dead letter and records who did, with the booking it belongs to, in one transaction. */
export async function replayOne(db: Db, id: number, actor: string): Promise<DeadLetter> {
  return db.transaction().execute((trx) => replayAudited(trx, id, actor));
}

/**
 * Replays every open, readable dead letter of a consumer group, each audited. Unreadable messages stay
 * (no event to put back); the answer says how many.
 */
export async function replayGroup(
  db: Db,
  group: string,
  actor: string,
): Promise<{ replayed: number; notReplayable: number }> {
  return db.transaction().execute(async (trx) => {
    const open = await trx
      .selectFrom('bus.dead_letters')
      .select(['id', 'event_id'])
      .where('consumer_group', '=', group)
      .where('replayed_at', 'is', null)
      .orderBy('id')
      .forUpdate()
      .execute();
    let replayed = 0;
    for (const letter of open) {
      if (!letter.event_id) continue;
      await replayAudited(trx, letter.id, actor);
      replayed++;
    }
    return { replayed, notReplayable: open.length - replayed };
  });
}

/** The outcome of each replayed letter, from its group's inbox and any later letter of the same event. */
export async function replayOutcomes(db: Db, letters: DeadLetter[]): Promise<Map<number, ReplayOutcome>> {
  const replayed = letters.filter((letter) => letter.replayedAt && letter.eventId);
  const outcomes = new Map<number, ReplayOutcome>();
  if (replayed.length === 0) return outcomes;
  const eventIds = replayed.map((letter) => letter.eventId as string);
  const [handled, again] = await Promise.all([
    db
      .selectFrom('bus.inbox')
      .select(['consumer_group', 'event_id'])
      .where('event_id', 'in', eventIds)
      .execute(),
    db
      .selectFrom('bus.dead_letters')
      .select(['consumer_group', 'event_id', 'id'])
      .where('event_id', 'in', eventIds)
      .execute(),
  ]);
  for (const letter of replayed) {
    const inInbox = handled.some(
      (row) => row.consumer_group === letter.consumerGroup && row.event_id === letter.eventId,
    );
    const later = again.some(
      (row) =>
        row.consumer_group === letter.consumerGroup && row.event_id === letter.eventId && row.id > letter.id,
    );
    outcomes.set(letter.id, inInbox ? 'handled' : later ? 'dead-lettered again' : 'waiting');
  }
  return outcomes;
}
