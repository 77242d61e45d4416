// The locals of views/partials/slot-picker.ejs: the next days' slots, the chosen one and the day shown.
import { addDays, istToday, isValidIsoDate, type Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import { slotPickerDays, type PickerDay } from '../../lib/scheduling/slots-service.js';
import { istParts, weekdayOf } from '../../lib/scheduling/slot-rules.js';

/** How many IST days, from today, a patient chooses from. */
export const PICKER_DAYS = 14;

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

export interface SlotPickerDay extends PickerDay {
  /** "Wed 2 Dec" and "Wednesday 2 December 2026". */
  label: string;
  longLabel: string;
}

export interface SlotPickerLocals {
  days: SlotPickerDay[];
  /** The day whose times are shown. */
  chosenDate: string;
  /** The chosen slot's start ('' when none). */
  chosenStart: string;
}

function labels(isoDate: string): { label: string; longLabel: string } {
  const weekday = weekdayOf(isoDate);
  const [year, month, day] = isoDate.split('-').map(Number) as [number, number, number];
  const monthName = MONTHS[month - 1] as string;
  const weekdayName = weekday.charAt(0).toUpperCase() + weekday.slice(1);
  return {
    label: `${weekdayName.slice(0, 3)} ${day} ${monthName.slice(0, 3)}`,
    longLabel: `${weekdayName} ${day} ${monthName} ${year}`,
  };
}

/** The same start written the picker's way ('' when it is not an instant). */
function normalStart(start: string): string {
  const at = new Date(start);
  if (!start || Number.isNaN(at.getTime())) return '';
  const { date, time } = istParts(at);
  return `${date}T${time}:00+05:30`;
}

/**
 * The picker for the next PICKER_DAYS IST days. The day shown is the one asked for (a GET parameter,
 * so it works without JavaScript) if it is listed, else the chosen slot's, else the first with a
 * free time.
 */
export async function slotPicker(
  db: Db,
  clock: Clock,
  { chosenStart, day }: { chosenStart: string; day?: unknown },
): Promise<SlotPickerLocals> {
  const from = istToday(clock);
  const days = (await slotPickerDays(db, clock, from, PICKER_DAYS)).map((pickerDay) => ({
    ...pickerDay,
    ...labels(pickerDay.date),
  }));
  const start = normalStart(chosenStart);
  const listed = (date: unknown): date is string =>
    typeof date === 'string' && isValidIsoDate(date) && days.some((d) => d.date === date);
  const startDay = start.slice(0, 10);
  const chosenDate = listed(day)
    ? day
    : listed(startDay)
      ? startDay
      : (days.find((d) => d.free > 0)?.date ?? addDays(from, 0));
  return { days, chosenDate, chosenStart: start };
}
