import { sql } from 'kysely';
import { findAuditEntries } from '../audit/audit-queries.js';
import type { Db } from '../db/database.js';
import { catalogue, type EventType } from '../events/catalogue.js';

export interface TraceStep {
  at: string;
  type: string;
  /** The process that took the step: the emitter of an event, the group a dead letter belongs to. */
  participant: string;
  actor: string;
  data: unknown;
  sincePreviousMs: number | null;
}

const EMITTER_OF_STREAM: Record<string, string> = {
  booking: 'booking',
  scheduling: 'scheduling',
  pricing: 'pricing',
  quota: 'discount-quota',
  payment: 'payment',
  config: 'web',
};

/** Who emits an event type: the participant owning its stream; admin actions come from the web. */
export function emitterOf(type: string): string {
  if (type.startsWith('Admin') || type === 'DeadLetterReplayed') return 'web (admin)';
  const entry = (catalogue as Record<string, { stream: string } | undefined>)[type as EventType];
  return entry ? (EMITTER_OF_STREAM[entry.stream] ?? entry.stream) : 'web';
}

/**
 * Every step of one booking, oldest first: its events and admin actions from the audit trail, the
 * dead letters of its messages, and when a replayed one was handled; each with the time since the last.
 */
export async function bookingTrace(db: Db, correlationId: string): Promise<TraceStep[]> {
  const [entries, letters] = await Promise.all([
    findAuditEntries(db, { correlationId, limit: 1000 }, 'asc'),
    db
      .selectFrom('bus.dead_letters as letter')
      .leftJoin('bus.inbox as inbox', (join) =>
        join
          .onRef('inbox.consumer_group', '=', 'letter.consumer_group')
          .onRef('inbox.event_id', '=', 'letter.event_id'),
      )
      .select([
        'letter.id',
        'letter.consumer_group',
        'letter.type',
        'letter.error',
        'letter.deliveries',
        'letter.created_at',
        'letter.replayed_at',
        'inbox.handled_at',
      ])
      .where(sql<string>`letter.payload->>'correlationId'`, '=', correlationId)
      .execute(),
  ]);
  const steps: Omit<TraceStep, 'sincePreviousMs'>[] = entries.map((entry) => ({
    at: entry.at,
    type: entry.type,
    participant: emitterOf(entry.type),
    actor: entry.actor,
    data: entry.data,
  }));
  for (const letter of letters) {
    const about = { deadLetterId: letter.id, eventType: letter.type, error: letter.error };
    steps.push({
      at: letter.created_at.toISOString(),
      type: 'DeadLettered',
      participant: letter.consumer_group,
      actor: 'system',
      data: { ...about, deliveries: letter.deliveries },
    });
    // Handled after its replay: the group's inbox row is the proof (the failed attempts left none).
    if (letter.replayed_at && letter.handled_at && letter.handled_at >= letter.replayed_at) {
      steps.push({
        at: letter.handled_at.toISOString(),
        type: 'ReplayHandled',
        participant: letter.consumer_group,
        actor: 'system',
        data: about,
      });
    }
  }
  // A stable sort: entries already come in saga order within one millisecond.
  steps.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return steps.map((step, index) => {
    const previous = steps[index - 1];
    return { ...step, sincePreviousMs: previous ? Date.parse(step.at) - Date.parse(previous.at) : null };
  });
}
