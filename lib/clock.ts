/** "Today" is the calendar date in IST (Asia/Kolkata), whatever the server's time zone. */
export interface Clock {
  now(): Date;
}

export interface ManualClock extends Clock {
  set(at: Date | string): void;
  advance(ms: number): void;
}

export const systemClock: Clock = { now: () => new Date() };

export function fixedClock(at: Date | string): Clock {
  const ms = toMs(at);
  return { now: () => new Date(ms) };
}

/** A clock a test can move: set it to 23:59 IST, price, set it to 00:01, compensate. */
export function manualClock(at: Date | string): ManualClock {
  let ms = toMs(at);
  return {
    now: () => new Date(ms),
    set: (next) => {
      ms = toMs(next);
    },
    advance: (deltaMs) => {
      if (!Number.isFinite(deltaMs)) throw new RangeError(`advance needs a finite number, got ${deltaMs}`);
      ms += deltaMs;
    },
  };
}

// IST is UTC+05:30 all year (India has no daylight saving), so a fixed offset is exact.
const IST_OFFSET_MS = (5 * 60 + 30) * 60 * 1000;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The IST calendar date of an instant, as 'YYYY-MM-DD'. */
export function istDate(at: Date): string {
  return formatUtcDate(new Date(toMs(at) + IST_OFFSET_MS));
}

/** Today's IST date on the given clock. */
export function istToday(clock: Clock): string {
  return istDate(clock.now());
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** A real calendar date written 'YYYY-MM-DD' (2023-02-29 is not). */
export function isValidIsoDate(s: string): boolean {
  if (typeof s !== 'string') return false;
  const match = ISO_DATE.exec(s);
  if (!match) return false;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/**
 * Month and day of the date of birth match today's; a 29 February birthday is kept on
 * 28 February in non-leap years. Someone not yet born has no birthday.
 */
export function isBirthday(dateOfBirth: string, today: string): boolean {
  const dob = parseIsoDate(dateOfBirth);
  const now = parseIsoDate(today);
  if (dateOfBirth > today) return false;
  if (dob.month === now.month && dob.day === now.day) return true;
  return dob.month === 2 && dob.day === 29 && now.month === 2 && now.day === 28 && !isLeapYear(now.year);
}

/** 'YYYY-MM-DD' plus n calendar days (n may be negative). */
export function addDays(isoDate: string, n: number): string {
  const { year, month, day } = parseIsoDate(isoDate);
  if (!Number.isSafeInteger(n)) throw new RangeError(`addDays needs an integer, got ${n}`);
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0..99 to 1900..1999.
  date.setUTCFullYear(year, month - 1, day + n);
  return formatUtcDate(date);
}

function parseIsoDate(s: string): { year: number; month: number; day: number } {
  if (!isValidIsoDate(s)) throw new RangeError(`not a calendar date 'YYYY-MM-DD': ${String(s)}`);
  const [year, month, day] = s.split('-').map(Number) as [number, number, number];
  return { year, month, day };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function formatUtcDate(date: Date): string {
  const year = String(date.getUTCFullYear()).padStart(4, '0');
  const month = String(date.getUTCMonth() + 1).padStart(2, '0');
  const day = String(date.getUTCDate()).padStart(2, '0');
  return `${year}-${month}-${day}`;
}

function toMs(at: Date | string): number {
  const ms = (typeof at === 'string' ? new Date(at) : at).getTime();
  if (Number.isNaN(ms)) throw new RangeError(`invalid date: ${String(at)}`);
  return ms;
}
