import { z } from 'zod';
import { addDays, isValidIsoDate } from '../clock.js';

/**
 * The clinic's schedule and the time slots it gives, pure: opening hours per weekday in IST, a slot
 * length, a capacity per slot and closed dates. Every instant is computed from IST wall-clock times,
 * so the server's own time zone never matters.
 */
export const WEEKDAYS = [
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
  'sunday',
] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** A patient books at least this long before the slot starts. */
export const BOOKING_LEAD_MINUTES = 60;
/** How far ahead slots are listed and booked. */
export const BOOKING_HORIZON_DAYS = 366;
export const MAX_LISTED_DAYS = 31;

const MINUTE_MS = 60_000;
// IST is UTC+05:30 all year (India has no daylight saving), so a fixed offset is exact.
const IST_OFFSET_MINUTES = 5 * 60 + 30;

const clockTime = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time as HH:MM')
  .refine((time) => minutesOf(time) % 5 === 0, 'on a five-minute mark');

const openingHours = z
  .object({ opens: clockTime, closes: clockTime })
  .refine(({ opens, closes }) => minutesOf(opens) < minutesOf(closes), 'closing after opening');

export const scheduleFields = z.object({
  slotMinutes: z
    .number('a number of minutes')
    .int('whole minutes')
    .min(5)
    .max(240)
    .refine((minutes) => minutes % 5 === 0, 'a multiple of 5'),
  capacity: z.number('a number of patients').int('a whole number').min(1).max(100),
  hours: z.object(
    Object.fromEntries(WEEKDAYS.map((day) => [day, openingHours.nullable()])) as Record<
      Weekday,
      z.ZodNullable<typeof openingHours>
    >,
  ),
  closedDates: z
    .array(z.string().refine(isValidIsoDate, 'a real date as YYYY-MM-DD'))
    .max(400)
    .transform((dates) => [...new Set(dates)].sort()),
});

export const scheduleSchema = scheduleFields.superRefine((schedule, ctx) => {
  for (const day of WEEKDAYS) {
    const hours = schedule.hours[day];
    if (hours && minutesOf(hours.closes) - minutesOf(hours.opens) < schedule.slotMinutes)
      ctx.addIssue({ code: 'custom', path: ['hours', day], message: 'open for at least one slot' });
  }
});

/** An admin's change: any of the fields, and any of the weekdays' hours. */
export const scheduleChangeSchema = z
  .object({
    slotMinutes: scheduleFields.shape.slotMinutes,
    capacity: scheduleFields.shape.capacity,
    hours: scheduleFields.shape.hours.partial().strict(),
    closedDates: scheduleFields.shape.closedDates,
  })
  .partial()
  .refine((change) => Object.keys(change).length > 0, 'nothing to change');

export type Schedule = z.infer<typeof scheduleSchema>;
export type ScheduleChange = z.infer<typeof scheduleChangeSchema>;

/** The schedule after a change: the weekdays not named keep their hours. */
export function applyChange(schedule: Schedule, change: ScheduleChange): unknown {
  return { ...schedule, ...change, hours: { ...schedule.hours, ...change.hours } };
}

const weekdayHours = { opens: '09:00', closes: '18:00' };

/** The spec's defaults: Monday to Saturday 09:00–18:00 IST, Sunday closed, 15 minutes, 3 patients. */
export const DEFAULT_SCHEDULE: Schedule = {
  slotMinutes: 15,
  capacity: 3,
  hours: {
    monday: weekdayHours,
    tuesday: weekdayHours,
    wednesday: weekdayHours,
    thursday: weekdayHours,
    friday: weekdayHours,
    saturday: weekdayHours,
    sunday: null,
  },
  closedDates: [],
};

export interface Slot {
  start: Date;
  end: Date;
  /** The IST calendar date and wall-clock time of the start. */
  date: string;
  time: string;
}

function minutesOf(time: string): number {
  const [hours = 0, minutes = 0] = time.split(':').map(Number);
  return hours * 60 + minutes;
}

/** The weekday of an IST calendar date. */
export function weekdayOf(isoDate: string): Weekday {
  const [year = 0, month = 1, day = 1] = isoDate.split('-').map(Number);
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  // getUTCDay counts from Sunday; WEEKDAYS from Monday.
  return WEEKDAYS[(date.getUTCDay() + 6) % 7] as Weekday;
}

/** The instant of an IST wall-clock time on an IST date. */
export function istInstant(isoDate: string, time: string): Date {
  const [year = 0, month = 1, day = 1] = isoDate.split('-').map(Number);
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return new Date(date.getTime() + (minutesOf(time) - IST_OFFSET_MINUTES) * MINUTE_MS);
}

/** An instant written in IST with its offset: 2026-03-02T09:00:00+05:30. */
export function formatIst(at: Date): string {
  const shifted = new Date(at.getTime() + IST_OFFSET_MINUTES * MINUTE_MS);
  return `${shifted.toISOString().slice(0, 19)}+05:30`;
}

/** The IST calendar date and HH:MM of an instant. */
export function istParts(at: Date): { date: string; time: string } {
  const [date = '', time = ''] = formatIst(at).split('T');
  return { date, time: time.slice(0, 5) };
}

export function isClosedOn(schedule: Schedule, isoDate: string): boolean {
  return schedule.closedDates.includes(isoDate) || schedule.hours[weekdayOf(isoDate)] === null;
}

/** Every slot of one IST day: from opening, one slot length apart, each ending by closing time. */
export function slotsOfDay(schedule: Schedule, isoDate: string): Slot[] {
  const hours = schedule.hours[weekdayOf(isoDate)];
  if (!hours || schedule.closedDates.includes(isoDate)) return [];
  const slots: Slot[] = [];
  const closes = minutesOf(hours.closes);
  for (let minute = minutesOf(hours.opens); minute + schedule.slotMinutes <= closes;) {
    const time = `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
    const start = istInstant(isoDate, time);
    slots.push({
      start,
      end: new Date(start.getTime() + schedule.slotMinutes * MINUTE_MS),
      date: isoDate,
      time,
    });
    minute += schedule.slotMinutes;
  }
  return slots;
}

/** The slots of `days` IST days from `from`, in time order. */
export function slotsBetween(schedule: Schedule, from: string, days: number): Slot[] {
  return Array.from({ length: days }, (_, i) => slotsOfDay(schedule, addDays(from, i))).flat();
}

/** The slot that starts at this instant, or null when no slot of the schedule does. */
export function slotStartingAt(schedule: Schedule, start: Date): Slot | null {
  const { date } = istParts(start);
  return slotsOfDay(schedule, date).find((slot) => slot.start.getTime() === start.getTime()) ?? null;
}

/** A slot is offered only if it starts at least the lead time from now (so never in the past). */
export function isOffered(slot: Slot, now: Date): boolean {
  return slot.start.getTime() - now.getTime() >= BOOKING_LEAD_MINUTES * MINUTE_MS;
}

export type SlotProblem = 'not_a_slot' | 'closed' | 'too_soon' | 'too_far';

/** Why a requested start cannot be booked now, or null when it can. */
export function slotProblem(schedule: Schedule, start: Date, now: Date): SlotProblem | null {
  const { date } = istParts(start);
  if (start.getTime() - now.getTime() > BOOKING_HORIZON_DAYS * 24 * 60 * MINUTE_MS) return 'too_far';
  if (isClosedOn(schedule, date)) return 'closed';
  const slot = slotStartingAt(schedule, start);
  if (!slot) return 'not_a_slot';
  return isOffered(slot, now) ? null : 'too_soon';
}

export const SLOT_PROBLEM_MESSAGES: Record<SlotProblem, string> = {
  not_a_slot: 'not the start of one of the clinic’s time slots',
  closed: 'the clinic is closed that day',
  too_soon: `a time at least ${BOOKING_LEAD_MINUTES} minutes from now`,
  too_far: `a time within the next ${BOOKING_HORIZON_DAYS} days`,
};

/** Places left in a slot: never below 0, even where a lowered capacity is under the places held. */
export function placesLeft(capacity: number, held: number): number {
  return Math.max(capacity - held, 0);
}

/** Today's fill rate: places held over places offered in the day's slots, or null on a closed day. */
export function fillRate(slotsToday: number, capacity: number, held: number): number | null {
  const places = slotsToday * capacity;
  return places === 0 ? null : Math.round((held / places) * 1000) / 1000;
}
