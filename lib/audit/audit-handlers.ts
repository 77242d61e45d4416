import { sql } from 'kysely';
import { inOneStatement, type Handlers } from '../bus/consumer.js';
import { eventTypes, type Event, type EventType } from '../events/catalogue.js';

/** Who acted: the admin or patient named by the events that carry one, else the saga itself. */
function actorOf(event: Event): string {
  return event.type === 'ConfigChanged' ||
    event.type === 'ScheduleChanged' ||
    event.type === 'CancellationRequested' ||
    event.type === 'RescheduleRequested'
    ? event.data.actor
    : 'system';
}

/** Audit log: every event of every stream, with its envelope, for the admin timeline and logs. */
export function auditHandlers(): Handlers {
  // A read batch's events in one insert, sent with the inbox rows as one statement; in the order read.
  const record = inOneStatement<EventType>((events) => {
    const rows = events.map((event) => ({
      at: event.occurredAt,
      type: event.type,
      actor: actorOf(event),
      booking_id: event.bookingId,
      correlation_id: event.correlationId,
      event_id: event.eventId,
      data: { causationId: event.causationId, version: event.version, ...event.data },
    }));
    return sql`
      INSERT INTO audit.entries (at, type, actor, booking_id, correlation_id, event_id, data)
      SELECT e.at, e.type, e.actor, e.booking_id, e.correlation_id, e.event_id, e.data
      FROM ROWS FROM (jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS (
        at timestamptz, type text, actor text, booking_id uuid, correlation_id uuid, event_id uuid, data jsonb
      )) WITH ORDINALITY AS e(at, type, actor, booking_id, correlation_id, event_id, data, n)
      WHERE e.event_id IN (SELECT event_id FROM fresh)
      ORDER BY e.n
      ON CONFLICT (event_id) DO NOTHING`;
  });
  return Object.fromEntries(eventTypes.map((type) => [type, record])) as Handlers;
}
