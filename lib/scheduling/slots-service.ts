import { addDays, istDate, type Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import { heldPlaces, readSchedule } from './schedule-repository.js';
import {
  fillRate,
  formatIst,
  isClosedOn,
  isOffered,
  placesLeft,
  slotsBetween,
  slotsOfDay,
} from './slot-rules.js';

export interface SlotView {
  start: string;
  end: string;
  capacity: number;
  available: number;
}

/** The offered slots of `days` IST days from `from`, each with its capacity and the places left. */
export async function listSlots(db: Db, clock: Clock, from: string, days: number): Promise<SlotView[]> {
  const now = clock.now();
  const { schedule } = await readSchedule(db);
  const slots = slotsBetween(schedule, from, days).filter((slot) => isOffered(slot, now));
  const [first, last] = [slots[0], slots.at(-1)];
  if (!first || !last) return [];
  const held = await heldPlaces(db, first.start, last.end);
  return slots.map((slot) => ({
    start: formatIst(slot.start),
    end: formatIst(slot.end),
    capacity: schedule.capacity,
    available: placesLeft(schedule.capacity, held.get(slot.start.getTime()) ?? 0),
  }));
}

/** Today's places held over places offered (every slot of the IST day, past ones too). */
export async function fillRateToday(
  db: Db,
  clock: Clock,
): Promise<{ date: string; held: number; places: number; fillRate: number | null }> {
  const date = istDate(clock.now());
  const { schedule } = await readSchedule(db);
  const slots = slotsOfDay(schedule, date);
  const [first, last] = [slots[0], slots.at(-1)];
  const held = first && last ? await heldPlaces(db, first.start, last.end) : new Map<number, number>();
  const inSlots = slots.reduce((sum, slot) => sum + (held.get(slot.start.getTime()) ?? 0), 0);
  return {
    date,
    held: inSlots,
    places: slots.length * schedule.capacity,
    fillRate: fillRate(slots.length, schedule.capacity, inSlots),
  };
}

export type PickerSlotState = 'free' | 'full' | 'unavailable';

export interface PickerDay {
  /** The IST calendar date. */
  date: string;
  closed: boolean;
  /** How many of its slots can be picked now. */
  free: number;
  slots: { start: string; time: string; state: PickerSlotState; available: number }[];
}

/**
 * Every slot of `days` IST days from `from`, for a patient choosing a time: those that cannot be
 * picked (past, within the lead time, or full) are listed too, marked, so the day reads as it is.
 */
export async function slotPickerDays(db: Db, clock: Clock, from: string, days: number): Promise<PickerDay[]> {
  const now = clock.now();
  const { schedule } = await readSchedule(db);
  const slots = slotsBetween(schedule, from, days);
  const [first, last] = [slots[0], slots.at(-1)];
  const held = first && last ? await heldPlaces(db, first.start, last.end) : new Map<number, number>();
  return Array.from({ length: days }, (_, i) => {
    const date = addDays(from, i);
    const daySlots = slotsOfDay(schedule, date).map((slot) => {
      const available = placesLeft(schedule.capacity, held.get(slot.start.getTime()) ?? 0);
      const state: PickerSlotState = !isOffered(slot, now)
        ? 'unavailable'
        : available === 0
          ? 'full'
          : 'free';
      return { start: formatIst(slot.start), time: slot.time, state, available };
    });
    return {
      date,
      closed: isClosedOn(schedule, date),
      free: daySlots.filter((slot) => slot.state === 'free').length,
      slots: daySlots,
    };
  });
}
