import { z } from 'zod';
import { SERVICE_GENDERS } from '../../lib/catalogue/service-rules.js';
import { isValidIsoDate } from '../../lib/clock.js';
import type { BookingStatus } from '../../lib/db/schema.js';

// The inputs of the admin API; the admin pages turn their form fields into the same shapes and parse them here.

/** Text without NUL characters, which PostgreSQL cannot store. */
const text = () =>
  z.string('text').refine((value) => !value.includes('\0'), 'must not contain NUL characters');

const percent = z
  .number('a number')
  .min(0, 'at least 0')
  .max(100, 'at most 100')
  .refine((value) => Math.abs(value * 100 - Math.round(value * 100)) < 1e-6, 'at most two decimals');

export const configChange = z
  .object({
    discountPercent: percent,
    dailyDiscountQuota: z
      .number('a number')
      .int('a whole number')
      .min(0, 'at least 0')
      .max(1_000_000, 'at most 1,000,000'),
    paymentSimulationMode: z.enum(['success', 'fail', 'random'], 'success, fail or random'),
    paymentFailureRate: z.number('a number').min(0, 'at least 0').max(1, 'at most 1'),
  })
  .partial()
  .refine((change) => Object.keys(change).length > 0, 'nothing to change');

const serviceName = text().trim().min(2, 'at least 2 characters').max(120, 'at most 120 characters');
const serviceDescription = text().trim().max(1000, 'at most 1,000 characters');
const pricePaise = z
  .number('a number')
  .int('whole paise')
  .min(0, 'not negative')
  .max(100_000_000, 'at most ₹10,00,000.00');
const serviceGender = z.enum(SERVICE_GENDERS, 'Everyone, Women or Men');

export const serviceFields = z.object({
  name: serviceName,
  description: serviceDescription.default(''),
  pricePaise,
  gender: serviceGender,
  active: z.boolean('true or false').default(true),
});

export const serviceChange = z
  .object({
    name: serviceName,
    description: serviceDescription,
    pricePaise,
    gender: serviceGender,
    active: z.boolean('true or false'),
  })
  .partial()
  .refine((change) => Object.keys(change).length > 0, 'nothing to change');

export const BOOKING_STATUSES = [
  'PENDING',
  'CONFIRMED',
  'REJECTED',
  'FAILED',
] as const satisfies readonly BookingStatus[];

const istDate = text()
  .refine(
    (value) => isValidIsoDate(value) && value >= '2000-01-01' && value <= '2100-12-31',
    'a date from 2000 to 2100',
  )
  .optional();
const pageSize = z.coerce
  .number('a number')
  .int('a whole number')
  .min(1, 'at least 1')
  .max(100, 'at most 100');
const optionalText = (max: number) =>
  text()
    .trim()
    .max(max, `at most ${max} characters`)
    .transform((value) => value || undefined)
    .optional();

export const bookingFilter = z
  .object({
    status: z.enum(BOOKING_STATUSES, 'a booking status').optional(),
    q: optionalText(100),
    reference: optionalText(20),
    patientName: optionalText(120),
    from: istDate,
    to: istDate,
    after: z.uuid('a booking id').optional(),
    limit: pageSize.default(25),
  })
  .refine((filter) => !filter.from || !filter.to || filter.from <= filter.to, {
    message: 'must not be after the end date',
    path: ['from'],
  });

/** An instant with its offset (2026-12-01T10:00:00+05:30 or …Z), 2000 to 2100. */
const instant = text()
  .pipe(z.iso.datetime({ offset: true, error: 'a date and time with its offset' }))
  .transform((value) => new Date(value))
  .refine(
    (date) => date.getTime() >= Date.UTC(2000, 0, 1) && date.getTime() < Date.UTC(2101, 0, 1),
    'a time from 2000 to 2100',
  )
  .optional();

export const auditFilter = z
  .object({
    type: optionalText(100),
    actor: optionalText(254),
    correlationId: z.uuid('a correlation id (UUID)').optional(),
    bookingId: z.uuid('a booking id (UUID)').optional(),
    from: instant,
    to: instant,
    after: z.coerce.number('an entry id').int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    limit: z.coerce
      .number('a number')
      .int('a whole number')
      .min(1, 'at least 1')
      .max(1000, 'at most 1,000')
      .optional(),
  })
  .refine((filter) => !filter.from || !filter.to || filter.from <= filter.to, {
    message: 'must not be after the end time',
    path: ['from'],
  });

export const deadLetterFilter = z.object({
  state: z.enum(['open', 'replayed', 'all'], 'open, replayed or all').default('all'),
  group: optionalText(100),
});

export const replayGroupBody = z.object({ group: text().trim().min(1, 'a consumer group').max(100) });

export const uuid = z.uuid();
export const deadLetterId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);
