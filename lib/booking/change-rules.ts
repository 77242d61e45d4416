import { addDays, istDate } from '../clock.js';
import type { BookingStatus } from '../db/schema.js';

/**
 * When a confirmed booking can still be cancelled (or moved): until `cutoffMinutes` before its
 * appointment; a walk-in (no appointment) until the end of the IST day it was booked for.
 */
export function changeDeadline(input: {
  appointmentStart: Date | null;
  bookedAt: Date;
  cutoffMinutes: number;
}): Date {
  if (input.appointmentStart)
    return new Date(input.appointmentStart.getTime() - input.cutoffMinutes * 60_000);
  const nextDay = addDays(istDate(input.bookedAt), 1);
  return new Date(`${nextDay}T00:00:00+05:30`);
}

export type Changeability = 'changeable' | 'not_changeable' | 'too_late';

/** Only a confirmed booking with no change under way, and only before its deadline. */
export function changeability(input: {
  status: BookingStatus;
  change: string | null;
  now: Date;
  deadline: Date;
}): Changeability {
  if (input.status !== 'CONFIRMED' || input.change !== null) return 'not_changeable';
  return input.now.getTime() < input.deadline.getTime() ? 'changeable' : 'too_late';
}

/** A cancellation is done once the payment is refunded and nothing it held (place, discount) is still held. */
export function cancellationSettled(input: {
  change: string | null;
  status: BookingStatus;
  quotaOutcome: 'reserved' | 'skipped' | 'rejected' | null;
  quotaReleased: boolean;
  slotOutcome?: 'reserved' | 'skipped' | 'rejected' | null;
  slotReleased?: boolean;
  refunded: boolean;
}): boolean {
  if (input.change !== 'cancelling' || input.status !== 'CONFIRMED') return false;
  const quotaFree = input.quotaOutcome !== 'reserved' || input.quotaReleased;
  const slotFree = input.slotOutcome !== 'reserved' || input.slotReleased === true;
  return quotaFree && slotFree && input.refunded;
}
