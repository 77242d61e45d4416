import { hkdfSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { isValidGstin, type Clinic } from './receipt/receipt.js';

const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
const optionalText = z.string().trim().min(1).optional();

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).optional(),
  PORT: int(3000, 1).pipe(z.number().max(65535)),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgres://postgres@127.0.0.1:5432/clinic'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z
    .string()
    .regex(/^[\w:.-]*$/, 'letters, digits and : . - _ only')
    .default('clinic:'),
  SESSION_SECRET: z
    .string()
    .transform((value) => value.split(',').map((secret) => secret.trim()))
    .pipe(z.array(z.string().min(32, 'at least 32 characters each')).max(5, 'at most 5 values'))
    .optional(),
  SESSION_IDLE_MINUTES: int(30, 1),
  SESSION_ABSOLUTE_HOURS: int(12, 1),
  TRUST_PROXY: z.coerce.number().int().min(0).max(10).optional(),
  METRICS_TOKEN: z.string().min(32, 'at least 32 characters').optional(),
  METRICS_CACHE_MS: int(5_000),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  PAYMENT_SIMULATION_MODE: z.enum(['success', 'fail', 'random']).default('success'),
  PAYMENT_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0.2),
  PAYMENT_DELAY_MS: int(300),
  SAGA_DEADLINE_MS: int(120_000, 100),
  SAGA_SWEEP_INTERVAL_MS: int(1_000, 10),
  LOGIN_RATE_LIMIT: int(10, 1),
  LOGIN_ADDRESS_RATE_LIMIT: int(100, 1),
  LOGIN_RATE_WINDOW_SECONDS: int(900, 1),
  SIGNUP_RATE_LIMIT: int(20, 1),
  SIGNUP_RATE_WINDOW_SECONDS: int(3600, 1),
  LOGIN_ACCOUNT_FREE_ATTEMPTS: int(5, 1),
  LOGIN_ACCOUNT_MAX_LOCK_SECONDS: int(900, 1),
  BOOKING_RATE_LIMIT: int(30, 1),
  BOOKING_RATE_WINDOW_SECONDS: int(3600, 1),
  BOOKING_PENDING_LIMIT: int(5, 1),
  SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  MAIL_FROM: z.string().default('Clinic <no-reply@clinic.example>'),
  CONSUMER_NAME: optionalText,
  DYNO: optionalText,
  BUS_MAX_DELIVERIES: int(5, 1),
  BUS_MAX_UNFINISHED_DELIVERIES: int(20, 1),
  BUS_CLAIM_IDLE_MS: int(30_000, 100),
  BUS_BATCH_SIZE: int(32, 1),
  BUS_BLOCK_MS: int(2_000, 10),
  BUS_POLL_MS: int(1_000, 10),
  SHUTDOWN_TIMEOUT_MS: int(25_000, 100),
  // Reliability: the connection budget, timeouts, re-drive of lost work, retention.
  DATABASE_CONNECTION_BUDGET: int(90, 2),
  DATABASE_PROCESSES: int(15, 1),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).optional(),
  DATABASE_STATEMENT_TIMEOUT_MS: int(15_000, 100),
  // Off only behind a transaction-mode pooler that does not keep prepared statements.
  DATABASE_PREPARED_STATEMENTS: z.enum(['on', 'off']).default('on'),
  SAGA_REDRIVE_AFTER_MS: int(30_000, 100),
  SAGA_REDRIVE_LIMIT: int(5, 0),
  BUS_INBOX_RETENTION_DAYS: int(7, 1),

  // The clinic on receipts, invites and emails.
  CLINIC_NAME: z.string().trim().min(1).max(120).optional(),
  CLINIC_ADDRESS: z.string().trim().min(1).max(300).optional(),
  CLINIC_GSTIN: z
    .string()
    .trim()
    .toUpperCase()
    .refine(isValidGstin, 'a 15-character GSTIN with a valid check character')
    .optional(),
  MAIL_DIR: z.string().trim().min(1).optional(),
  // Until when a confirmed booking may be cancelled: minutes before its appointment.
  CANCELLATION_CUTOFF_MINUTES: int(120),
});

type Env = z.infer<typeof schema>;

export type Config = Omit<
  Env,
  'NODE_ENV' | 'SESSION_SECRET' | 'TRUST_PROXY' | 'DATABASE_POOL_SIZE' | 'MAIL_DIR'
> & {
  NODE_ENV: 'development' | 'test' | 'production';
  TRUST_PROXY: number;
  DATABASE_POOL_SIZE: number;
  /** Where messages are written as .eml files when no SMTP server is set. */
  MAIL_DIR: string;
  /** Secure cookies, HSTS-worthy settings: never off by accident. */
  production: boolean;
  /** HMAC keys derived from SESSION_SECRET, newest first: the first signs, all verify. */
  keys: { session: string[]; csrf: string[] };
};

export class ConfigError extends Error {}

// A development secret keeps `npm run dev` zero-config; it is refused wherever production may be.
const DEV_SESSION_SECRET = 'development-only-session-secret-change-me';

// The compiled build (dist/) is what production runs; the sources run under tsx in development and tests.
const RUNNING_BUILD = import.meta.url.endsWith('.js');

/** One key per purpose, so a leaked CSRF key signs no session: HKDF-SHA256 over each secret. */
function deriveKey(secret: string, purpose: string): string {
  return Buffer.from(hkdfSync('sha256', secret, 'clinic-booking', purpose, 32)).toString('base64url');
}

/** A secret someone could guess (the development one, or one repeated character) is not a real one. */
function weakSecret(secret: string): boolean {
  return secret === DEV_SESSION_SECRET || new Set(secret).size < 8;
}

/**
 * Each process's share of the connection budget, less the one connection its outbox relay LISTENs on:
 * web + every worker instance together stay under the database's connection limit.
 */
function poolSizeWithin(env: { DATABASE_CONNECTION_BUDGET: number; DATABASE_PROCESSES: number }): number {
  return Math.max(1, Math.floor(env.DATABASE_CONNECTION_BUDGET / env.DATABASE_PROCESSES) - 1);
}

/**
 * Parses the environment once; a wrong value names the variable in one line. Production is
 * NODE_ENV=production, or the build started without NODE_ENV; the build never takes the development
 * secret, whatever NODE_ENV says.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: { build?: boolean } = {}): Config {
  const build = options.build ?? RUNNING_BUILD;
  const blankless = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = schema.safeParse(blankless);
  const fail = (problems: string[]) => new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  if (!parsed.success) {
    throw fail(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const { NODE_ENV, SESSION_SECRET, TRUST_PROXY, DATABASE_POOL_SIZE, MAIL_DIR, ...rest } = parsed.data;
  const nodeEnv = NODE_ENV ?? (build ? 'production' : 'development');
  const production = nodeEnv === 'production';
  if ((production || build) && !SESSION_SECRET) {
    throw fail([`SESSION_SECRET: required in production (${production ? 'NODE_ENV' : 'the build'})`]);
  }
  if ((production || build) && SESSION_SECRET?.some(weakSecret)) {
    throw fail(['SESSION_SECRET: a real secret is required in production, not a guessable one']);
  }
  const secrets = SESSION_SECRET ?? [DEV_SESSION_SECRET];
  return {
    ...rest,
    NODE_ENV: nodeEnv,
    production,
    TRUST_PROXY: TRUST_PROXY ?? (production ? 1 : 0),
    DATABASE_POOL_SIZE: DATABASE_POOL_SIZE ?? poolSizeWithin(parsed.data),
    MAIL_DIR: MAIL_DIR ?? path.join(tmpdir(), 'clinic-mail'),
    keys: {
      session: secrets.map((secret) => deriveKey(secret, 'session-signing')),
      csrf: secrets.map((secret) => deriveKey(secret, 'csrf-tokens')),
    },
  };
}

// The demo clinic of `npm run dev`; a deployment sets its own name and address (README).
const DEMO_CLINIC: Clinic = {
  name: 'Clinic',
  address: '12 MG Road, Bengaluru 560001, Karnataka, India',
  gstin: null,
};

/** The clinic as receipts and invites name it. */
export function clinicOf(config: Config): Clinic {
  return {
    name: config.CLINIC_NAME ?? DEMO_CLINIC.name,
    address: config.CLINIC_ADDRESS ?? DEMO_CLINIC.address,
    gstin: config.CLINIC_GSTIN ?? null,
  };
}
