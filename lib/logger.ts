import winston from 'winston';
import { currentContext } from './context.js';

const withContext = winston.format((info) => {
  for (const [key, value] of Object.entries(currentContext())) {
    if (value !== undefined && info[key] === undefined) info[key] = value;
  }
  return info;
});

/** JSON lines on stdout only; each process names itself with setLogService. */
export const logger = winston.createLogger({
  level: process.env.LOG_LEVEL ?? 'info',
  defaultMeta: { service: 'clinic' },
  format: winston.format.combine(
    withContext(),
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
