import { z } from 'zod';
import { ValidationError } from '../../lib/errors.js';

/** Parses input with a zod schema; a failure is a 400 listing each field's problem. */
export function parse<S extends z.ZodType>(
  schema: S,
  input: unknown,
  message = 'Please correct the highlighted fields.',
): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => ({
    path: issue.path.join('.'),
    message: issue.message,
  }));
  throw new ValidationError(message, details);
}

const ISO_DATE_TIME =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** A date or ISO date-time from 1900 to 9999: what the clinic can mean and PostgreSQL can hold. */
export const boundedDateTime = z
  .string()
  .regex(ISO_DATE_TIME, 'a date as YYYY-MM-DD or an ISO date-time')
  .transform((text) => new Date(text))
  .refine((date) => {
    const year = date.getUTCFullYear();
    return Number.isFinite(date.getTime()) && year >= 1900 && year <= 9999;
  }, 'a real date from 1900 to 9999');
