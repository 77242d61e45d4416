import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, NotFoundError, TooManyRequestsError } from '../../lib/errors.js';
import { errorFields, logger } from '../../lib/logger.js';
import { isTransient } from '../../lib/transient-errors.js';

interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** Maps any error to a status and a body that is safe to show: never a stack trace. */
function toBody(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof AppError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.details !== undefined) body.error.details = error.details;
    return { status: error.status, body };
  }
  const httpError = error as {
    status?: number;
    statusCode?: number;
    type?: string;
    expose?: boolean;
    code?: string;
  };
  const status = httpError.status ?? httpError.statusCode;
  if (
    httpError.code === 'EBADCSRFTOKEN' ||
    (status === 403 && String((error as Error).message).includes('csrf'))
  ) {
    return {
      status: 403,
      body: {
        error: { code: 'csrf_invalid', message: 'Invalid or missing CSRF token. Fetch a new one and retry.' },
      },
    };
  }
  if (httpError.type === 'entity.parse.failed') {
    return {
      status: 400,
      body: { error: { code: 'malformed_json', message: 'The request body is not valid JSON.' } },
    };
  }
  if (httpError.type === 'entity.too.large') {
    return {
      status: 413,
      body: { error: { code: 'payload_too_large', message: 'The request body is too large.' } },
    };
  }
  if (status && status >= 400 && status < 500 && httpError.expose) {
    return { status, body: { error: { code: 'bad_request', message: (error as Error).message } } };
  }
  if (isUnavailable(error)) {
    return {
      status: 503,
      body: { error: { code: 'unavailable', message: 'The service is briefly unavailable. Please retry.' } },
    };
  }
  return {
    status: 500,
    body: { error: { code: 'internal', message: 'Something went wrong on our side. Please retry.' } },
  };
}

/** A dependency is down, or the connection to it was severed: the client may retry shortly. */
function isUnavailable(error: unknown): boolean {
  return isTransient(error) || isTransient((error as { cause?: unknown })?.cause);
}

/** Seconds a client is asked to wait before retrying a 503. */
const RETRY_AFTER_SECONDS = 2;

export const notFound: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`Nothing at ${req.method} ${req.path}.`));
};

/** JSON for the API (and clients asking for JSON), a rendered page for browsers. */
export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const { status, body } = toBody(error);
  if (status >= 500)
    logger.error('request failed', { method: req.method, path: req.path, status, ...errorFields(error) });
  if (error instanceof TooManyRequestsError) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  if (res.headersSent) return;
  if (status === 503) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  res.status(status);
  if (req.path.startsWith('/api/') || !req.accepts('html')) {
    res.json(body);
    return;
  }
  // `user` is passed since an error raised before the locals middleware (e.g. a malformed body) has none.
  const locals = {
    title: status === 404 ? 'Page not found' : 'Something went wrong',
    status,
    message: body.error.message,
    user: res.locals.user ?? null,
  };
  res.render('pages/error', locals, (renderError: Error | null, html: string) => {
    if (!renderError) return void res.send(html);
    // Express's fallback would show the render error's stack: answer plain text instead.
    logger.error('error page failed to render', errorFields(renderError));
    res.type('text/plain').send(body.error.message);
  });
};
