import { expect } from 'chai';
import { sql } from 'kysely';
import { loadConfig } from '../../../lib/config.js';
import { createDb, type Db } from '../../../lib/db/database.js';
import { AccountCache } from '../../../lib/identity/account-cache.js';
import { createUser } from '../../../lib/identity/user-service.js';
import { buildUser } from '../../support/factories.js';
import { waitFor } from '../../support/wait.js';

describe('accounts kept in memory for sessions, right by what PostgreSQL announces', function () {
  this.timeout(20_000);
  let db: Db;
  let counted: Db;
  let reads = 0;
  let cache: AccountCache;

  before(async () => {
    // Read here, not when the file loads: the run's own database is set up by then.
    const config = loadConfig(process.env);
    db = createDb(config.DATABASE_URL, 2);
    // The cache's own reads, counted as they reach the database.
    counted = db.withPlugin({
      transformQuery: (args) => {
        reads++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    cache = new AccountCache(counted, { databaseUrl: config.DATABASE_URL, retryMs: 100 });
    await cache.start();
  });
  after(async () => {
    await cache?.stop();
    await db?.destroy();
  });

  const listenerPids = async () =>
    (
      await sql<{ pid: number }>`
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND query = ${'LISTEN identity_account_changed'}`.execute(db)
    ).rows.map((row) => row.pid);

  it('reads an account once, then from memory', async () => {
    const user = await createUser(db, buildUser());
    const before = reads;
    expect(await cache.find(user.id)).to.deep.include({ id: user.id, role: 'user' });
    expect(await cache.find(user.id)).to.deep.include({ id: user.id, role: 'user' });
    expect(await cache.find(user.id)).to.deep.include({ id: user.id, role: 'user' });
    expect(reads - before).to.equal(1);
  });

  it('reads an account again once a change to it is committed (a new role, an ended session)', async () => {
    const user = await createUser(db, buildUser());
    await cache.find(user.id);
    await db
      .updateTable('identity.users')
      .set({ role: 'admin', session_version: sql<number>`session_version + 1` })
      .where('id', '=', user.id)
      .execute();
    const changed = await waitFor(async () => {
      const account = await cache.find(user.id);
      return account?.role === 'admin' && account;
    });
    expect(changed.sessionVersion).to.equal(user.sessionVersion + 1);
  });

  it('forgets a deleted account', async () => {
    const user = await createUser(db, buildUser());
    await cache.find(user.id);
    await db.deleteFrom('identity.users').where('id', '=', user.id).execute();
    await waitFor(async () => (await cache.find(user.id)) === null);
  });

  it('reads every account from the database while it cannot hear the announcements, and keeps them again after', async () => {
    const user = await createUser(db, buildUser());
    await cache.find(user.id);
    const [pid] = await listenerPids();
    expect(pid, 'the cache listens').to.be.a('number');
    await sql`SELECT pg_terminate_backend(${pid!})`.execute(db);
    // Down: every read goes to the database (and sees what was changed meanwhile at once).
    await waitFor(async () => {
      const before = reads;
      await cache.find(user.id);
      return reads - before === 1;
    });
    await db
      .updateTable('identity.users')
      .set({ name: 'Renamed Meanwhile' })
      .where('id', '=', user.id)
      .execute();
    expect(await cache.find(user.id)).to.deep.include({ name: 'Renamed Meanwhile' });
    // Back: one read, then memory.
    await waitFor(async () => (await listenerPids()).some((found) => found !== pid));
    await cache.find(user.id);
    const before = reads;
    await cache.find(user.id);
    expect(reads - before).to.equal(0);
  });
});
