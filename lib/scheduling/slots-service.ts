import { istDate, type Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import { heldPlaces, readSchedule } from './schedule-repository.js';
import { fillRate, formatIst, isOffered, placesLeft, slotsBetween, slotsOfDay } from './slot-rules.js';

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
