/**
 * Whether an error means a dependency is down or overloaded for now (and the same work will succeed
 * once it is back), as opposed to a fault of the work itself. Transient failures are retried for as
 * long as they last and never dead-lettered; the web answers them 503 with Retry-After.
 */
export function isTransient(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  if (error instanceof RetryLaterError) return true;
  const { code, responseCode, message } = error as {
    code?: unknown;
    responseCode?: unknown;
    message?: unknown;
  };
  const text = typeof message === 'string' ? message : '';
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || SMTP_CODES.has(code)) return true;
    // PostgreSQL: connection exceptions, insufficient resources, operator intervention, and the two
    // conflicts a retry resolves (serialization failure, deadlock); 57014 is a statement timeout.
    if (/^(08|53|57P)/.test(code) || code === '40001' || code === '40P01' || code === '57014') return true;
  }
  // SMTP 4xx replies mean "try again later" (greylisting, mailbox busy, server shutting down).
  if (typeof responseCode === 'number' && responseCode >= 400 && responseCode < 500) return true;
  return TRANSIENT_MESSAGES.some((fragment) => text.includes(fragment));
}

/** Work another process is doing right now: try again once it is done (or its lease ran out). */
export class RetryLaterError extends Error {}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

// nodemailer's codes for a server it could not reach or that dropped the connection.
const SMTP_CODES = new Set(['ECONNECTION', 'ESOCKET', 'EDNS', 'ETIMEDOUT', 'EENVELOPE_TEMP']);

const TRANSIENT_MESSAGES = [
  // pg
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'terminating connection',
  'the database system is starting up',
  'the database system is shutting down',
  'sorry, too many clients already',
  // ioredis
  'Connection is closed',
  "Stream isn't writeable",
  'LOADING',
  'MASTERDOWN',
  'READONLY',
];
