import { batched, type Handlers } from '../bus/consumer.js';
import { eventTypes, type EventType } from '../events/catalogue.js';

/** Audit log: every event of every stream, with its envelope, for the admin timeline and logs. */
export function auditHandlers(): Handlers {
  // A read batch's events in one insert (the audit log runs a transaction per batch).
  const record = batched<EventType>(async (events, trx) => {
    await trx
      .insertInto('audit.entries')
      .values(
        events.map((event) => ({
          at: new Date(event.occurredAt),
          type: event.type,
          actor:
            event.type === 'ConfigChanged' ||
            event.type === 'ScheduleChanged' ||
            event.type === 'CancellationRequested' ||
            event.type === 'RescheduleRequested'
              ? event.data.actor
              : 'system',
          booking_id: event.bookingId,
          correlation_id: event.correlationId,
          event_id: event.eventId,
          data: JSON.stringify({ causationId: event.causationId, version: event.version, ...event.data }),
        })),
      )
      .onConflict((conflict) => conflict.column('event_id').doNothing())
      .execute();
  });
  return Object.fromEntries(eventTypes.map((type) => [type, record])) as Handlers;
}
