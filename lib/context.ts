import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line of the current request or message carries. */
export interface LogContext {
  requestId?: string;
  correlationId?: string;
  bookingId?: string | null;
  eventId?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

export function runWithContext<T>(context: LogContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...context }, fn);
}

export function currentContext(): LogContext {
  return storage.getStore() ?? {};
}

/** Adds fields to the running context (e.g. the correlation id once a booking is created). */
export function extendContext(fields: LogContext): void {
  const store = storage.getStore();
  if (store) Object.assign(store, fields);
}
