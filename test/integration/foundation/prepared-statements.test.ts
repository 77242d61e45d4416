import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import { createDb, type Db } from '../../../lib/db/database.js';
import { isTransient } from '../../../lib/transient-errors.js';

describe('prepared statements: each text parsed and planned once per connection', () => {
  const table = `prepared_${randomUUID().slice(0, 8)}`;
  let db: Db;
  before(async () => {
    // One connection: every statement below runs on the same server session.
    db = createDb(process.env.DATABASE_URL as string, 1);
    await sql`CREATE TABLE ${sql.table(table)} (id int PRIMARY KEY, a text)`.execute(db);
    await sql`INSERT INTO ${sql.table(table)} (id, a) VALUES (1, 'one')`.execute(db);
  });
  after(async () => {
    await sql`DROP TABLE ${sql.table(table)}`.execute(db);
    await db.destroy();
  });

  const read = (target: Db) =>
    target
      .selectFrom(table as never)
      .selectAll()
      .where('id' as never, '=', 1 as never)
      .execute();
  const preparedTexts = async (target: Db) =>
    (await sql<{ statement: string }>`SELECT statement FROM pg_prepared_statements`.execute(target)).rows.map(
      (row) => row.statement,
    );

  it('prepares a statement with parameters on first use and runs the prepared one after', async () => {
    expect(await read(db)).to.deep.equal([{ id: 1, a: 'one' }]);
    expect(await read(db)).to.deep.equal([{ id: 1, a: 'one' }]);
    const ours = (await preparedTexts(db)).filter((statement) => statement.includes(table));
    expect(ours).to.have.length(1);
  });

  it('answers a table changed under it (a migration) with one transient error, then prepares it anew', async () => {
    expect(await read(db)).to.deep.equal([{ id: 1, a: 'one' }]);
    await sql`ALTER TABLE ${sql.table(table)} ADD COLUMN b text DEFAULT 'new'`.execute(db);
    const error = await read(db).then(
      () => null,
      (failure: unknown) => failure,
    );
    expect(error, 'the out-of-date statement').to.not.equal(null);
    expect(isTransient(error)).to.equal(true);
    expect(await read(db)).to.deep.equal([{ id: 1, a: 'one', b: 'new' }]);
  });

  it('sends them unprepared when told to (behind a pooler that does not keep them)', async () => {
    const plain = createDb(process.env.DATABASE_URL as string, { poolSize: 1, preparedStatements: false });
    try {
      expect(await read(plain)).to.have.length(1);
      expect((await preparedTexts(plain)).filter((statement) => statement.includes(table))).to.deep.equal([]);
    } finally {
      await plain.destroy();
    }
  });
});
