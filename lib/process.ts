import type { Redis } from 'ioredis';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDb, type Db } from './db/database.js';
import { Lifecycle } from './lifecycle.js';
import { errorFields, logger, setLogService } from './logger.js';
import { isTransient } from './transient-errors.js';

export interface ProcessBase {
  config: Config;
  db: Db;
  lifecycle: Lifecycle;
}

/** Loads the configuration or stops the process with one clear line naming the variable. */
export function configOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** What every process starts with: config, logger name, a pool, and a shutdown sequence. */
export function bootProcess(service: string): ProcessBase {
  const config = configOrExit();
  setLogService(service, config.LOG_LEVEL);
  const lifecycle = new Lifecycle(config.SHUTDOWN_TIMEOUT_MS);
  lifecycle.installSignalHandlers();
  const db = createDb(config.DATABASE_URL, {
    poolSize: config.DATABASE_POOL_SIZE,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    preparedStatements: config.DATABASE_PREPARED_STATEMENTS === 'on',
  });
  logger.info('starting', { pid: process.pid, env: config.NODE_ENV, poolSize: config.DATABASE_POOL_SIZE });
  return { config, db, lifecycle };
}

export async function quitRedis(redis: Redis): Promise<void> {
  await redis.quit().catch(() => redis.disconnect());
}

/** Start-up work that needs PostgreSQL or Redis: a dependency that is down is waited for, not a crash. */
export async function untilAvailable<T>(
  what: string,
  work: () => Promise<T>,
  stopped: () => boolean,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isTransient(error) || stopped()) throw error;
      logger.warn('a dependency is unavailable at start; waiting', { what, attempt, ...errorFields(error) });
      await new Promise((resolve) => setTimeout(resolve, Math.min(200 * attempt, 2_000)));
    }
  }
}
