// Each test run gets its own PostgreSQL database and Redis key prefix, so runs (and a developer's
// `npm run dev` data) never see each other. The creation time is in the name, so leftovers of
// killed runs can be found and dropped later.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/clinic';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const DB_PREFIX = 'clinic_test_';
const REDIS_KEY_PREFIX = 'test:';
const ID = /^([0-9a-z]+)_[0-9a-z]+$/; // <creation time, base 36>_<random>

export interface TestEnvironment {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  /** Drops the database and deletes the Redis keys under the prefix. */
  drop(): Promise<void>;
}

const baseDatabaseUrl = () => process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const baseRedisUrl = () => process.env.REDIS_URL || DEFAULT_REDIS_URL;

function databaseUrlFor(name: string): string {
  const url = new URL(baseDatabaseUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

function createdAt(id: string): number | undefined {
  const match = ID.exec(id);
  return match ? parseInt(match[1]!, 36) : undefined;
}

/** Runs `fn` with a client connected to the `postgres` maintenance database of DATABASE_URL. */
async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrlFor('postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function dropDatabase(client: pg.Client, name: string): Promise<void> {
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42601') throw error;
    // PostgreSQL < 13 has no WITH (FORCE): end the sessions first.
    await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  }
}

/** Deletes (UNLINK) every key matching `pattern`, SCANning in batches; returns how many. */
async function unlinkMatching(redis: Redis, pattern: string, keep?: (key: string) => boolean) {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    const doomed = keep ? keys.filter((key) => !keep(key)) : keys;
    if (doomed.length > 0) deleted += await redis.unlink(...doomed);
  } while (cursor !== '0');
  return deleted;
}

const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

async function withRedis<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(baseRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  try {
    return await fn(redis);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

export async function createTestEnvironment(): Promise<TestEnvironment> {
  const id = `${Date.now().toString(36)}_${randomBytes(4).readUInt32BE().toString(36)}`;
  const database = `${DB_PREFIX}${id}`;
  const redisPrefix = `${REDIS_KEY_PREFIX}${id}:`;

  await withAdmin(async (client) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${quoteIdent(database)}`);
        return;
      } catch (error) {
        // 55006: template1 is briefly in use by another session (e.g. a parallel run creating its own).
        if ((error as { code?: string }).code !== '55006' || attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });

  return {
    databaseUrl: databaseUrlFor(database),
    redisUrl: baseRedisUrl(),
    redisPrefix,
    async drop() {
      await withAdmin((client) => dropDatabase(client, database));
      await withRedis((redis) => unlinkMatching(redis, `${escapeGlob(redisPrefix)}*`));
    },
  };
}

/** Drops the `clinic_test_*` databases created more than `maxAgeMs` ago; returns their names. */
export async function dropStaleTestDatabases(maxAgeMs: number): Promise<string[]> {
  const cutoff = Date.now() - maxAgeMs;
  return withAdmin(async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
      [DB_PREFIX],
    );
    const stale = rows
      .map((row) => row.datname)
      .filter((name) => (createdAt(name.slice(DB_PREFIX.length)) ?? Infinity) < cutoff);
    for (const name of stale) await dropDatabase(client, name);
    return stale;
  });
}

/** Deletes the Redis keys of test runs created more than `maxAgeMs` ago; returns how many. */
export async function dropStaleTestRedisKeys(maxAgeMs: number): Promise<number> {
  const cutoff = Date.now() - maxAgeMs;
  const fresh = (key: string) => {
    const id = key.slice(REDIS_KEY_PREFIX.length).split(':', 1)[0]!;
    return (createdAt(id) ?? Infinity) >= cutoff;
  };
  return withRedis((redis) => unlinkMatching(redis, `${escapeGlob(REDIS_KEY_PREFIX)}*`, fresh));
}
