import { parseRupeesToPaise } from '../../lib/money.js';

// Form fields arrive as text; these turn them into the API's shapes, then the API's schemas judge them.
// A value that cannot be converted is passed on as it came, so the schema names the problem.

type Fields = Record<string, unknown>;

const DECIMAL = /^\s*-?\d+(\.\d+)?\s*$/;

/** "12.5" → 12.5, "-1" → -1 (for the schema to say why not); anything else (empty, doubled, "12,5") stays as it came for the schema to refuse. */
export function numberField(value: unknown): unknown {
  return typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value;
}

/** An empty text field is a field not given. */
function given(value: unknown): boolean {
  return !(value === undefined || value === '');
}

/** A checkbox: absent is false, "on" is true; anything else (doubled, other text) stays for the schema. */
export function checkboxField(value: unknown): unknown {
  if (value === undefined) return false;
  return value === 'on' ? true : value;
}

export function serviceForm(body: Fields): Fields {
  const price = body.price;
  const pricePaise = typeof price === 'string' ? (parseRupeesToPaise(price) ?? price) : price;
  return {
    name: body.name,
    description: body.description ?? '',
    pricePaise,
    gender: body.gender,
    active: checkboxField(body.active),
  };
}

export function configForm(body: Fields): Fields {
  const rate = numberField(body.failureRatePercent);
  return {
    discountPercent: numberField(body.discountPercent),
    dailyDiscountQuota: numberField(body.dailyDiscountQuota),
    paymentSimulationMode: body.paymentSimulationMode,
    // Shown as a percent on the page; the API takes a rate from 0 to 1.
    paymentFailureRate: typeof rate === 'number' ? Math.round(rate * 100) / 10_000 : rate,
  };
}

const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

/** A datetime-local value is IST wall time: "2026-12-01T10:00" → "2026-12-01T10:00:00+05:30". */
export function istDateTimeField(value: unknown): unknown {
  if (typeof value !== 'string' || !LOCAL_TIME.test(value)) return value;
  return `${value.length === 16 ? `${value}:00` : value}+05:30`;
}

/** A filter form's query without its empty fields, so "any" is simply absent. */
export function filledIn(query: Fields): Fields {
  return Object.fromEntries(Object.entries(query).filter(([, value]) => given(value)));
}
