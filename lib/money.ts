/** Money is integer paise everywhere; rupees exist only on the way to a page. */
export type Paise = number;

const inrFormatter = new Intl.NumberFormat('en-IN', { style: 'currency', currency: 'INR' });

/** 12345600 → "₹1,23,456.00" */
export function formatInr(paise: number): string {
  assertPaise(paise, 'paise', true);
  return inrFormatter.format(paise / 100);
}

/** Percent (0..100, at most two decimals) → integer basis points: 12.5 → 1250. */
export function percentToBasisPoints(percent: number): number {
  if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100) {
    throw new RangeError(`percent must be a number from 0 to 100, got ${String(percent)}`);
  }
  const scaled = percent * 100;
  const basisPoints = Math.round(scaled);
  // Tolerance, not equality: 12.34 * 100 is 1233.9999999999998 in binary floating point.
  if (Math.abs(scaled - basisPoints) >= 1e-6) {
    throw new RangeError(`percent must have at most two decimals, got ${percent}`);
  }
  return basisPoints;
}

/** 1250 → 12.5 */
export function basisPointsToPercent(basisPoints: number): number {
  assertBasisPoints(basisPoints);
  return basisPoints / 100;
}

/** base × percent / 100, rounded half up to the paisa, in integers only. */
export function discountPaise(basePaise: number, basisPoints: number): number {
  assertPaise(basePaise, 'basePaise');
  assertBasisPoints(basisPoints);
  const numerator = basePaise * basisPoints + 5000;
  if (!Number.isSafeInteger(numerator)) {
    throw new RangeError(`basePaise ${basePaise} is too large to price exactly`);
  }
  return Math.floor(numerator / 10000);
}

export function sumPaise(values: readonly number[]): number {
  let totalPaise = 0;
  for (const valuePaise of values) {
    assertPaise(valuePaise, 'value');
    totalPaise += valuePaise;
  }
  assertPaise(totalPaise, 'sum');
  return totalPaise;
}

function assertPaise(value: number, name: string, allowNegative = false): void {
  if (!Number.isSafeInteger(value) || (!allowNegative && value < 0)) {
    const kind = allowNegative ? 'a safe integer' : 'a non-negative safe integer';
    throw new RangeError(`${name} must be ${kind} number of paise, got ${String(value)}`);
  }
}

function assertBasisPoints(basisPoints: number): void {
  if (!Number.isSafeInteger(basisPoints) || basisPoints < 0 || basisPoints > 10000) {
    throw new RangeError(`basis points must be an integer from 0 to 10000, got ${String(basisPoints)}`);
  }
}

const RUPEES = /^(\d+|\d{1,3}(,\d{3})+|\d{1,3}(,\d{2})*,\d{3})(\.\d{1,2})?$/;

/**
 * Rupees as an admin types them ("1234.50", "1,234.50", "1,23,456", "₹99") → integer paise, by string
 * arithmetic (no float); null when it is not an amount with at most two decimals.
 */
export function parseRupeesToPaise(text: string): number | null {
  const trimmed = text.trim().replace(/^₹\s*/, '');
  if (!RUPEES.test(trimmed)) return null;
  const [whole = '0', fraction = ''] = trimmed.replace(/,/g, '').split('.');
  const paise = Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
  return Number.isSafeInteger(paise) ? paise : null;
}
