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

/** What a patient entered for one of their bookings, to book the same visit again at another time. */
export async function bookingEntries(
  db: Db,
  userId: string,
  bookingId: string,
): Promise<{
  patient: { name: string; gender: string; dateOfBirth: string; phone: string; email: string };
  serviceIds: string[];
} | null> {
  const booking = await db
    .selectFrom('booking.bookings')
    .select(['patient_name', 'patient_gender', 'patient_date_of_birth', 'patient_phone', 'patient_email'])
    .where('id', '=', bookingId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!booking) return null;
  const lines = await db
    .selectFrom('booking.booking_services')
    .select('service_id')
    .where('booking_id', '=', bookingId)
    .orderBy('position')
    .execute();
  return {
    patient: {
      name: booking.patient_name,
      gender: booking.patient_gender,
      dateOfBirth: booking.patient_date_of_birth,
      phone: booking.patient_phone,
      email: booking.patient_email,
    },
    serviceIds: lines.map((line) => line.service_id),
  };
}
