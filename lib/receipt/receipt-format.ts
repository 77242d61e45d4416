import { formatInr } from '../money.js';

const longDate = new Intl.DateTimeFormat('en-IN', {
  day: 'numeric',
  month: 'long',
  year: 'numeric',
  timeZone: 'UTC',
});

/** An IST calendar date 'YYYY-MM-DD' as receipts print it: "1 December 2026". */
export function formatLongDate(isoDate: string): string {
  return longDate.format(new Date(`${isoDate}T00:00:00Z`));
}

/** Rupees for the PDF: its standard fonts have no ₹ glyph, so "Rs. 1,23,456.00" as printed bills write it. */
export function formatRupeesPlain(paise: number): string {
  return formatInr(paise).replace('₹', 'Rs. ');
}
