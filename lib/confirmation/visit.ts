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
  return visitOf({ createdAt: booking.created_at, slotStart: booking.slot_start, slotEnd: booking.slot_end });
}

/** The visit of a booking made at `createdAt` for the slot it holds, if any. */
export function visitOf(booking: { createdAt: Date; slotStart: Date | null; slotEnd: Date | null }): Visit {
  if (booking.slotStart && booking.slotEnd) {
    const appointment = { start: booking.slotStart.toISOString(), end: booking.slotEnd.toISOString() };
    return { appointment };
  }
  // A booking without an appointment is a walk-in on the IST day it was made.
  return { walkInDay: istDate(booking.createdAt) };
}
