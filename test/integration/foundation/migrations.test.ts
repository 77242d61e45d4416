import { readdirSync } from 'node:fs';
import { expect } from 'chai';
import { sql } from 'kysely';
import { createDb, type Db } from '../../../lib/db/database.js';
import { migrateToLatest } from '../../../lib/db/migrate.js';
import { runNode } from '../../support/api-process.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-env.js';

// Every committed migration file, in the order they apply.
const ALL_MIGRATIONS = readdirSync(new URL('../../../lib/db/migrations/', import.meta.url))
  .filter((file) => file.endsWith('.ts'))
  .map((file) => file.replace(/\.ts$/, ''))
  .sort();

describe('migrations', function () {
  this.timeout(30_000);
  const opened: Db[] = [];
  const environments: TestEnvironment[] = [];

  function open(databaseUrl: string): Db {
    const db = createDb(databaseUrl, 2);
    opened.push(db);
    return db;
  }

  /** An empty database of its own, dropped after the tests. */
  async function emptyDatabase(): Promise<string> {
    const environment = await createTestEnvironment();
    environments.push(environment);
    return environment.databaseUrl;
  }

  after(async () => {
    await Promise.all(opened.splice(0).map((db) => db.destroy()));
    for (const environment of environments.splice(0)) await environment.drop();
  });

  it('applies nothing when run again on the migrated run database', async () => {
    const db = open(process.env.DATABASE_URL!);
    expect(await migrateToLatest(db)).to.deep.equal([]);
    expect(await migrateToLatest(db)).to.deep.equal([]);
  });

  it('migrates an empty database once, then applies nothing', async () => {
    const db = open(await emptyDatabase());

    expect(await migrateToLatest(db)).to.deep.equal(ALL_MIGRATIONS);
    expect(await migrateToLatest(db)).to.deep.equal([]);

    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM settings.config`.execute(db);
    expect(rows[0]!.n).to.equal(1);
  });

  it('migrates an empty database from two places at once: each migration applied exactly once', async () => {
    const databaseUrl = await emptyDatabase();
    const [first, second] = [open(databaseUrl), open(databaseUrl)];

    const [a, b] = await Promise.all([migrateToLatest(first), migrateToLatest(second)]);

    expect([...a, ...b].sort()).to.deep.equal(ALL_MIGRATIONS);
    const applied = await first
      .selectFrom('kysely_migration' as never)
      .select('name' as never)
      .execute();
    expect(applied.map((row) => (row as { name: string }).name)).to.deep.equal(ALL_MIGRATIONS);
    expect(await migrateToLatest(first)).to.deep.equal([]);
  });

  it('runs as the release command (server/cli/migrate.ts): migrates, and is a no-op when up to date', async () => {
    const [fresh, again] = await Promise.all([
      runNode('server/cli/migrate.ts', { DATABASE_URL: await emptyDatabase() }),
      runNode('server/cli/migrate.ts', { DATABASE_URL: process.env.DATABASE_URL! }),
    ]);

    expect(fresh.code, fresh.stderr).to.equal(0);
    expect(fresh.stdout).to.equal(`applied migrations: ${ALL_MIGRATIONS.join(', ')}\n`);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.equal('database is up to date\n');
  });
});
