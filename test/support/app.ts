import type { Express } from 'express';
import type { Redis } from 'ioredis';
import { createRedis } from '../../lib/bus/redis.js';
import { DIRECT_PUBLISH_GRACE_MS, OutboxRelay } from '../../lib/bus/relay.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import { loadConfig, type Config } from '../../lib/config.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { AccountCache } from '../../lib/identity/account-cache.js';
import { createApp } from '../../server/app.js';

export interface TestApp {
  app: Express;
  config: Config;
  db: Db;
  redis: Redis;
  relay: OutboxRelay;
  close(): Promise<void>;
}

/**
 * The real web app in-process (for supertest) against the run's database and Redis prefix.
 * `relay: true` also relays its outbox, as server/index.ts does, for tests that run the saga; a
 * booking request's event is published by the app itself in any case, as the web's is.
 */
export async function startTestApp(
  options: { env?: Record<string, string>; clock?: Clock; relay?: boolean } = {},
): Promise<TestApp> {
  const config = loadConfig({ ...process.env, ...options.env });
  const db = createDb(config.DATABASE_URL, 5);
  const redis = createRedis(config.REDIS_URL, 'web', 'test-web');
  await redis.ping().catch(async () => {
    await new Promise((resolve) => redis.once('ready', resolve));
  });
  const relayRedis = createRedis(config.REDIS_URL, 'worker', 'test-web-relay');
  const relay = new OutboxRelay({
    db,
    redis: relayRedis,
    databaseUrl: config.DATABASE_URL,
    prefix: config.REDIS_PREFIX,
    pollMs: 200,
    // As the web's: the worker processes publish their own rows.
    directGraceMs: DIRECT_PUBLISH_GRACE_MS,
  });
  if (options.relay) await relay.start();
  const accounts = new AccountCache(db, { databaseUrl: config.DATABASE_URL });
  await accounts.start();
  const app = createApp({
    config,
    db,
    redis,
    clock: options.clock ?? systemClock,
    published: () => {
      if (options.relay) relay.kick();
    },
    publish: (events) => relay.publishCommitted(events),
    accounts,
  });
  return {
    app,
    config,
    db,
    redis,
    relay,
    async close() {
      await relay.stop();
      await accounts.stop();
      await relayRedis.quit();
      await redis.quit();
      await db.destroy();
    },
  };
}
