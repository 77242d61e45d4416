import winston from 'winston';
import { currentContext } from './context.js';

const withContext = winston.format((info) => {
  for (const [key, value] of Object.entries(currentContext())) {
    if (value !== undefined && info[key] === undefined) info[key] = value;
  }
  return info;
});

// Fields that hold a patient's data (or a secret); such a field's value never reaches a log line.
const PERSONAL =
  /^(e-?mail|to|recipient|phone|date_?of_?birth|patient(_\w+)?|password\w*|text|html|body|name|address)$/i;
const REDACTED = '[redacted]';

/**
 * Marks the one line an operator needs whole: with no SMTP server set, the log is how the
 * confirmation is delivered (development), so its message stays readable there.
 */
export const personalDataNeeded = Symbol('personal data needed');

function redactValue(value: unknown, depth: number): unknown {
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, child]) => [
      key,
      PERSONAL.test(key) ? REDACTED : redactValue(child, depth + 1),
    ]),
  );
}

const redact = winston.format((info) => {
  if ((info as Record<symbol, unknown>)[personalDataNeeded]) return info;
  for (const key of Object.keys(info)) {
    if (key === 'message' || key === 'level') continue;
    info[key] = PERSONAL.test(key) ? REDACTED : redactValue(info[key], 0);
  }
  return info;
});

/** JSON lines on stdout only; each process names itself with setLogService. */
export const logger = winston.createLogger({
  level: process.env.LOG_LEVEL ?? 'info',
  defaultMeta: { service: 'clinic' },
  format: winston.format.combine(
    withContext(),
    redact(),
    winston.format.timestamp(),
    winston.format.errors({ stack: true }),
    winston.format.json(),
  ),
  transports: [new winston.transports.Console()],
});

export function setLogService(service: string, level?: string): void {
  logger.defaultMeta = { service };
  if (level) logger.level = level;
}

export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { error: error.message, stack: error.stack };
  return { error: String(error) };
}
