import type { Db } from '../db/database.js';

/** Security events in the audit trail, beside admin actions and saga events. */
export type SecurityEventType =
  | 'LoginSucceeded'
  | 'LoginFailed'
  | 'LoginThrottled'
  | 'SignupThrottled'
  | 'BookingThrottled'
  | 'SignedUp'
  | 'LoggedOut'
  | 'PasswordChanged'
  | 'AdminAction';

export interface SecurityEvent {
  type: SecurityEventType;
  /** The account's email, or the email a login was attempted for, or 'anonymous'. */
  actor: string;
  /** The client address as the web saw it (behind TRUST_PROXY hops). */
  address: string;
  data?: Record<string, unknown>;
}

export async function recordSecurityEvent(db: Db, event: SecurityEvent, at: Date): Promise<void> {
  await db
    .insertInto('audit.entries')
    .values({
      at,
      type: event.type,
      actor: event.actor,
      booking_id: null,
      correlation_id: null,
      event_id: null,
      data: JSON.stringify({ address: event.address, ...event.data }),
    })
    .execute();
}
