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

/** Text a person types: trimmed, within a length, and never a NUL byte (PostgreSQL refuses it in text). */
export function typedText(max: number, missing: string) {
  return z
    .string()
    .trim()
    .min(1, missing)
    .max(max)
    .refine((value) => !value.includes('\u0000'), 'cannot contain a NUL character');
}
