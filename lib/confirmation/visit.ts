import { istDate } from '../clock.js';
import type { Db, Trx } from '../db/database.js';
import type { Visit } from './invite.js';

/** When the booking's visit is, read from the booking participant's committed state. */
export async function findVisit(db: Db | Trx, bookingId: string): Promise<Visit | null> {
  const booking = await db
    .selectFrom('booking.bookings')
    .select(['created_at', 'slot_start', 'slot_end'])
    .where('id', '=', bookingId)
    .executeTakeFirst();
  if (!booking) return null;
  if (booking.slot_start && booking.slot_end) {
    const appointment = { start: booking.slot_start.toISOString(), end: booking.slot_end.toISOString() };
    return { appointment };
  }
  // A booking without an appointment is a walk-in on the IST day it was made.
  return { walkInDay: istDate(booking.created_at) };
}
