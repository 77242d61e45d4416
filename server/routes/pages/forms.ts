import type { Request, Response } from 'express';
import { AppError, TooManyRequestsError, ValidationError } from '../../../lib/errors.js';
import type { FormError } from '../../views/helpers.js';

/** A form field: the id of its control and the label its messages start with. */
export type FieldLabels = Record<string, { id: string; label: string }>;

/**
 * A form's failure as messages for the error summary and beside each field; anything that is not a
 * client error (a 5xx) is thrown on to the error page.
 */
export function formErrors(
  res: Response,
  error: unknown,
  fields: FieldLabels,
): { status: number; errors: FormError[] } {
  if (!(error instanceof AppError) || error.status >= 500) throw error;
  if (error instanceof TooManyRequestsError) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  const details =
    error instanceof ValidationError && Array.isArray(error.details)
      ? (error.details as { path?: unknown; message?: unknown }[])
      : [];
  const errors = details.flatMap((detail): FormError[] => {
    const field = fields[String(detail.path)];
    if (!field) return [];
    return [{ field: field.id, message: `${field.label}: ${String(detail.message)}` }];
  });
  return {
    status: error.status,
    errors: errors.length > 0 ? errors : [{ field: null, message: error.message }],
  };
}

/** A submitted text value to show again: a doubled or missing field shows as empty. */
export function shownText(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The form body as an object, whatever was posted (nothing, JSON of another shape). */
export function formBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

/** Only same-site paths are followed after login. */
export function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?!\/)[\w\-/?=&%.]*$/.test(value) ? value : '/';
}
