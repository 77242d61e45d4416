import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createDb } from '../../lib/db/database.js';
import { migrateToLatest } from '../../lib/db/migrate.js';
import { logger } from '../../lib/logger.js';
import { projectRoot } from '../../lib/paths.js';
import { createTestEnvironment, dropStaleTestDatabases } from './test-env.js';

let drop: (() => Promise<void>) | null = null;

/**
 * Root hooks: the whole run gets its own database and Redis key prefix, exported through the
 * environment so that the app, the handlers and spawned worker processes all use them.
 */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60_000);
    await dropStaleTestDatabases(6 * 3600_000);
    const environment = await createTestEnvironment();
    drop = environment.drop;
    process.env.NODE_ENV = 'test';
    process.env.DATABASE_URL = environment.databaseUrl;
    process.env.REDIS_URL = environment.redisUrl;
    process.env.REDIS_PREFIX = environment.redisPrefix;
    process.env.LOG_LEVEL ??= 'warn';
    // Without SMTP the confirmation worker writes .eml files: into the tests' (ignored) output folder.
    process.env.MAIL_DIR ??= path.join(projectRoot, 'test/output/mail');
    // Every test signs up from 127.0.0.1; the rate-limit tests set their own small limits.
    process.env.SIGNUP_RATE_LIMIT ??= '10000';
    process.env.LOGIN_RATE_LIMIT ??= '10000';
    process.env.LOGIN_ADDRESS_RATE_LIMIT ??= '10000';
    // Tests book many times for one patient, often with no worker to finish them; the limit tests set their own.
    process.env.BOOKING_RATE_LIMIT ??= '10000';
    process.env.BOOKING_PENDING_LIMIT ??= '10000';
    // /metrics needs its bearer token; tests watching figures change want them fresh (the cache test sets its own).
    process.env.METRICS_TOKEN ??= `test-metrics-token-${randomUUID()}`;
    process.env.METRICS_CACHE_MS ??= '0';
    // In-process code logs only errors (set TEST_LOG_LEVEL to see more); spawned processes use LOG_LEVEL.
    logger.level = process.env.TEST_LOG_LEVEL ?? 'error';
    const db = createDb(environment.databaseUrl, 1);
    try {
      await migrateToLatest(db);
    } finally {
      await db.destroy();
    }
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    if (!process.env.KEEP_TEST_DATA) await drop?.();
  },
};
