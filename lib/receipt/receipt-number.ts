import { isValidIsoDate } from '../clock.js';

/** The Indian financial year (April to March) of an IST calendar date: 2026-03-31 → "2025-26". */
export function financialYear(istDate: string): string {
  if (!isValidIsoDate(istDate)) throw new RangeError(`not a calendar date 'YYYY-MM-DD': ${istDate}`);
  const year = Number(istDate.slice(0, 4));
  const month = Number(istDate.slice(5, 7));
  const start = month >= 4 ? year : year - 1;
  return `${start}-${String((start + 1) % 100).padStart(2, '0')}`;
}

/** The digits a year's sequence number is written with, at the least: 000123. */
export const SEQUENCE_DIGITS = 6;

/** "BOS/2026-27/": Bill of Supply and the financial year, what every number of that year begins with. */
export function receiptNumberPrefix(year: string): string {
  if (!/^\d{4}-\d{2}$/.test(year)) throw new RangeError(`not a financial year: ${year}`);
  return `BOS/${year}/`;
}

/** "BOS/2026-27/000123": Bill of Supply, financial year, the year's sequence number. */
export function formatReceiptNumber(year: string, sequence: number): string {
  const prefix = receiptNumberPrefix(year);
  if (!Number.isSafeInteger(sequence) || sequence < 1)
    throw new RangeError(`not a sequence number: ${sequence}`);
  return `${prefix}${String(sequence).padStart(SEQUENCE_DIGITS, '0')}`;
}
