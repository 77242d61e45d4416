import { randomUUID } from 'node:crypto';
import type { Handler, HandlerContext, Handlers, TwoStepHandler } from '../../lib/bus/consumer.js';
import type { Db } from '../../lib/db/database.js';
import {
  createEvent,
  followUp,
  type Event,
  type EventData,
  type EventType,
} from '../../lib/events/catalogue.js';

/**
 * Runs one participant handler as the bus would (a two-step handler's outside step first, then its
 * transaction) and returns what it emitted.
 */
export async function handle(db: Db, handlers: Handlers, event: Event): Promise<Event[]> {
  const handler = handlers[event.type] as Handler<EventType> | TwoStepHandler<EventType> | undefined;
  if (!handler) throw new Error(`no handler for ${event.type}`);
  const prepared = typeof handler === 'function' ? undefined : await handler.outside(event, db);
  const emitted: Event[] = [];
  await db.transaction().execute((trx) => {
    const context = {
      trx,
      emit: ((type, data) => {
        const next = followUp(event, type, data) as Event;
        emitted.push(next);
        return next as never;
      }) as HandlerContext['emit'],
    };
    return typeof handler === 'function' ? handler(event, context) : handler.inside(event, context, prepared);
  });
  return emitted;
}

export function sagaEvent<T extends EventType>(
  type: T,
  data: EventData<T>,
  bookingId: string | null = randomUUID(),
): Event<T> {
  return createEvent(type, data, { bookingId, correlationId: randomUUID(), causationId: null });
}
