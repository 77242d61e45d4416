import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { CompiledQuery, sql } from 'kysely';
import {
  createDb,
  statementsSent,
  transactionWithEdges,
  valuesList,
  type Db,
  type TransactionEdges,
} from '../../../lib/db/database.js';

type Row = {
  id: string;
  a: string | null;
  n: number | null;
  at: Date | null;
  ids: string[] | null;
  doc: unknown;
};

for (const preparedStatements of [true, false]) {
  describe(`a transaction with BEGIN and COMMIT sent with its first and last statements (prepared statements ${preparedStatements ? 'on' : 'off'})`, () => {
    const table = `edges_${randomUUID().slice(0, 8)}`;
    let db: Db;
    let other: Db;
    before(async () => {
      // One connection: what a failure leaves on it shows in the next statement.
      db = createDb(process.env.DATABASE_URL as string, { poolSize: 1, preparedStatements });
      other = createDb(process.env.DATABASE_URL as string, 1);
      await sql`CREATE TABLE ${sql.table(table)} (
        id uuid PRIMARY KEY, a text, n integer, at timestamptz, ids uuid[], doc jsonb)`.execute(db);
    });
    after(async () => {
      await sql`DROP TABLE ${sql.table(table)}`.execute(db);
      await db.destroy();
      await other.destroy();
    });

    const rows = () =>
      other
        .selectFrom(table as never)
        .selectAll()
        .orderBy('a' as never)
        .execute() as Promise<Row[]>;
    const insert = (target: Db, row: Partial<Row> & { id: string }) =>
      target
        .insertInto(table as never)
        .values({ ...row, doc: row.doc === undefined ? null : JSON.stringify(row.doc) } as never);
    beforeEach(() => sql`TRUNCATE ${sql.table(table)}`.execute(db));

    it('commits the first, middle and last statements in three round trips, with the first one’s rows', async () => {
      const [first, middle, last] = [randomUUID(), randomUUID(), randomUUID()];
      const before = statementsSent();
      const returned = await transactionWithEdges(db, async (trx, edges) => {
        const inserted = await edges.begin(
          insert(trx as never, { id: first, a: '1' }).returning('id' as never),
        );
        await insert(trx as never, { id: middle, a: '2' }).execute();
        // Not visible outside before the commit.
        expect(await rows()).to.deep.equal([]);
        await edges.commit(insert(trx as never, { id: last, a: '3' }));
        return inserted;
      });
      // The transaction's three, and the read from outside.
      expect(statementsSent() - before).to.equal(4);
      expect(returned).to.deep.equal([{ id: first }]);
      expect((await rows()).map((row) => row.id)).to.deep.equal([first, middle, last]);
    });

    it('writes every kind of value in as a literal exactly as a parameter would', async () => {
      const tricky = [
        "it's a \\ backslash, a '' doubled quote and $1 $2 in text",
        "E'\\x41' \u2014 \u20b9 1,200 \u0915\u094d\u0932\u093f\u0928\u093f\u0915 \n\t\r line breaks; COMMIT; --",
      ];
      const at = new Date('2026-12-02T10:15:30.123Z');
      const doc = { quote: "'", backslash: '\\', nested: { list: [1, null, 'x'] }, nul: '\u0000'.length };
      const ids = [randomUUID(), randomUUID()];
      const values = [
        { id: randomUUID(), a: tricky[0]!, n: -2_147_483_648, at, ids, doc },
        { id: randomUUID(), a: tricky[1]!, n: null, at: null, ids: [], doc: null },
      ];
      await transactionWithEdges(db, async (trx, edges) => {
        await edges.begin(insert(trx as never, values[0]!));
        await edges.commit(insert(trx as never, values[1]!));
      });
      // The same rows through parameters, for comparison.
      await insert(db, { ...values[0]!, id: randomUUID(), a: `${tricky[0]!} (parameters)` }).execute();
      const stored = await rows();
      const byText = new Map(stored.map((row) => [row.a, row]));
      expect(byText.get(tricky[0]!)).to.deep.include({ n: -2_147_483_648, at, ids, doc });
      expect(byText.get(tricky[1]!)).to.deep.include({ n: null, at: null, ids: [], doc: null });
      const { id: _literal, a: _a, ...literal } = byText.get(tricky[0]!)!;
      const { id: _parameter, a: _b, ...parameter } = byText.get(`${tricky[0]!} (parameters)`)!;
      expect(literal).to.deep.equal(parameter);
    });

    it('writes arrays of texts and of JSON in exactly, from a statement compiled already', async () => {
      // The shape of the consumer's inbox and outbox rows: one array per column, unnested.
      const texts = [
        'a "double" and \'single\' quote, a \\ backslash, {braces}, a comma, $1',
        'NULL',
        '\u0915\u094d\u0932\u093f\u0928\u093f\u0915 \n\t\r; COMMIT; --',
      ];
      const docs = texts.map((text, n) => JSON.stringify({ text, n, list: [text, null], nested: { text } }));
      const statement = (ids: string[], suffix: string) =>
        CompiledQuery.raw(
          `INSERT INTO ${table} (id, a, doc) SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[])`,
          [ids, texts.map((text) => `${text}${suffix}`), docs],
        );
      const ids = texts.map(() => randomUUID());
      await transactionWithEdges(db, async (_trx, edges) => {
        await edges.begin(CompiledQuery.raw('SELECT 1'));
        await edges.commit(statement(ids, ''));
      });
      // The same through parameters, for comparison.
      await db.executeQuery(
        statement(
          texts.map(() => randomUUID()),
          ' (parameters)',
        ),
      );
      const stored = new Map((await rows()).map((row) => [row.a, row]));
      for (const [n, text] of texts.entries()) {
        expect(stored.get(text)?.doc).to.deep.equal(JSON.parse(docs[n]!));
        expect(stored.get(text)?.doc).to.deep.equal(stored.get(`${text} (parameters)`)?.doc);
      }
      expect(stored.size).to.equal(2 * texts.length);
    });

    it('numbers the parameters of a statement’s VALUES rows in order (valuesList)', async () => {
      const values = [1, 2, 3].map((n) => ({ id: randomUUID(), a: `row ${n}`, n }));
      const insert = (rows: typeof values) =>
        CompiledQuery.raw(
          `INSERT INTO ${table} (id, a, n) VALUES ${valuesList(rows.length, 3)} RETURNING n`,
          rows.flatMap((row) => [row.id, row.a, row.n]),
        ) as CompiledQuery<{ n: number }>;
      expect(valuesList(2, 3)).to.equal('($1, $2, $3), ($4, $5, $6)');
      const returned = await transactionWithEdges(db, async (_trx, edges) => {
        const first = await edges.begin(insert(values.slice(0, 2)));
        await edges.commit(insert(values.slice(2)));
        return first;
      });
      expect(returned.map((row) => row.n).sort()).to.deep.equal([1, 2]);
      expect((await rows()).map(({ id, a, n }) => ({ id, a, n }))).to.deep.equal(values);
    });

    it('rolls back what ran when the work throws, and leaves the connection outside any transaction', async () => {
      const failure = new Error('the handler failed');
      const error = await transactionWithEdges(db, async (trx, edges) => {
        await edges.begin(insert(trx as never, { id: randomUUID(), a: 'first' }));
        await insert(trx as never, { id: randomUUID(), a: 'middle' }).execute();
        throw failure;
      }).catch((caught: unknown) => caught);
      expect(error).to.equal(failure);
      // The pool's one connection: a statement on it now commits on its own, seen from another.
      await insert(db, { id: randomUUID(), a: 'after' }).execute();
      expect((await rows()).map((row) => row.a)).to.deep.equal(['after']);
    });

    const failing: [string, (trx: Db, edges: TransactionEdges, taken: string) => Promise<void>][] = [
      [
        'the last statement fails before its COMMIT',
        async (trx, edges, taken) => {
          await edges.begin(insert(trx, { id: randomUUID(), a: 'first' }));
          await edges.commit(insert(trx, { id: taken, a: 'duplicate' }));
        },
      ],
      [
        'the first statement fails after its BEGIN',
        async (trx, edges, taken) => {
          await edges.begin(insert(trx, { id: taken, a: 'duplicate' }));
        },
      ],
    ];
    for (const [when, work] of failing) {
      it(`rolls back everything when ${when}`, async () => {
        const taken = randomUUID();
        await insert(db, { id: taken, a: 'before' }).execute();
        const error = await transactionWithEdges(db, (trx, edges) => work(trx as never, edges, taken)).catch(
          (caught: unknown) => caught,
        );
        expect((error as { code?: string }).code, 'unique_violation').to.equal('23505');
        await insert(db, { id: randomUUID(), a: 'next' }).execute();
        expect((await rows()).map((row) => row.a)).to.deep.equal(['before', 'next']);
      });
    }

    it('commits on its own when the work returns without a last statement', async () => {
      const id = randomUUID();
      await transactionWithEdges(db, async (trx, edges) => {
        await edges.begin(insert(trx as never, { id, a: 'only' }));
      });
      expect((await rows()).map((row) => row.id)).to.deep.equal([id]);
    });
  });
}
