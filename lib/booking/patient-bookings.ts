import type { Db } from '../db/database.js';

/** How many of a patient's bookings are still being processed (the cap on pending bookings). */
export async function countPendingBookings(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('booking.bookings')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('user_id', '=', userId)
    .where('status', '=', 'PENDING')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Whether this Idempotency-Key already made a booking for the patient (a repeat, not a new booking). */
export async function hasBookingWithKey(db: Db, userId: string, idempotencyKey: string): Promise<boolean> {
  const row = await db
    .selectFrom('booking.bookings')
    .select('id')
    .where('user_id', '=', userId)
    .where('idempotency_key', '=', idempotencyKey)
    .executeTakeFirst();
  return row !== undefined;
}
