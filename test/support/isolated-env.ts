// A database and Redis prefix of their own, migrated, for suites that break things (a paused
// PostgreSQL, deleted stream entries): nothing they do reaches the rest of the run.
import { createDb, type Db } from '../../lib/db/database.js';
import { migrateToLatest } from '../../lib/db/migrate.js';
import { createTestEnvironment } from './test-env.js';

export interface IsolatedEnvironment {
  databaseUrl: string;
  redisPrefix: string;
  /** A direct pool on the database (not through any proxy a test puts in front of it). */
  db: Db;
  drop(): Promise<void>;
}

export async function isolatedEnvironment(): Promise<IsolatedEnvironment> {
  const environment = await createTestEnvironment();
  const db = createDb(environment.databaseUrl, 5);
  await migrateToLatest(db);
  return {
    databaseUrl: environment.databaseUrl,
    redisPrefix: environment.redisPrefix,
    db,
    async drop() {
      await db.destroy();
      if (!process.env.KEEP_TEST_DATA) await environment.drop();
    },
  };
}
