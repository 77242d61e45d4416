import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, sql, type Compilable, type CompiledQuery, type Transaction } from 'kysely';
import pg from 'pg';
import { prepareValue } from 'pg/lib/utils.js';
import { errorFields, logger } from '../logger.js';
import { RetryLaterError } from '../transient-errors.js';
import type { Database } from './schema.js';

// DATE columns stay 'YYYY-MM-DD' strings: a JS Date would shift IST calendar dates by the server's zone.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);
// COUNT(*) and BIGSERIAL ids fit easily in a JS number here.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export type Db = Kysely<Database>;

let statements = 0;
/** SQL statements this process has sent (all its pools), for /metrics and the benchmark. */
export const statementsSent = () => statements;
export type Trx = Transaction<Database>;

export interface DbOptions {
  poolSize?: number;
  /** A statement (or a transaction left idle) past this is cancelled, so no lock is held for ever (0: off). */
  statementTimeoutMs?: number;
  /**
   * Statements with parameters go as prepared statements (see preparingPool). Off behind a pooler in
   * transaction mode that does not keep them (PgBouncer before 1.21, or without max_prepared_statements).
   */
  preparedStatements?: boolean;
}

export function createDb(databaseUrl: string, options: DbOptions | number = {}): Db {
  const {
    poolSize = 10,
    statementTimeoutMs = 0,
    preparedStatements = true,
  } = typeof options === 'number' ? { poolSize: options } : options;
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: poolSize,
    connectionTimeoutMillis: 5_000,
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: statementTimeoutMs,
  });
  // An idle client's error (e.g. the server restarted) must not crash the process; the pool replaces it.
  pool.on('error', (error) => logger.warn('idle database connection lost', errorFields(error)));
  // A checked-out client has no pool listener: without one, a severed connection is an uncaught error.
  // Its query fails instead (a transient failure), and the pool drops the broken client on release.
  pool.on('connect', (client) => {
    client.on('error', (error) => logger.warn('database connection lost', errorFields(error)));
  });
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool: sendingPool(pool, preparedStatements) }),
    log: () => {
      statements++;
    },
  });
}

/** A bound for texts that never repeat (none is built so here): past it, new texts go unnamed. */
const MAX_PREPARED = 2_000;
/** feature_not_supported "cached plan must not change result type": a migration changed a table. */
const PLAN_CHANGED = '0A000';
/** invalid_sql_statement_name: the server connection has no such statement (a pooler switched it). */
const NOT_PREPARED = '26000';

/**
 * Sends every statement with parameters as a named (prepared) statement, unless `preparing` is off:
 * PostgreSQL parses and plans each distinct text once per connection, then only binds and executes it.
 * Statements without parameters (BEGIN, COMMIT, a migration's several statements) go as they are, and
 * of several statements in one text the answer is the last's that is not BEGIN or COMMIT (see
 * transactionWithEdges). When the server's copy no longer fits (a migration changed the table under
 * it) the text gets a new name and the error is a transient one: the work is retried, and prepared anew.
 */
function sendingPool(pool: pg.Pool, preparing: boolean) {
  const names = new Map<string, string>();
  let renamed = 0;
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (!name && names.size < MAX_PREPARED) {
      name = `k${createHash('sha1').update(text).digest('base64url').slice(0, 16)}`;
      names.set(text, name);
    }
    return name;
  };
  const prepared = async (client: pg.PoolClient, text: string, values: unknown[]) => {
    const name = nameOf(text);
    try {
      return await client.query({ name, text, values });
    } catch (error) {
      const { code, message } = error as { code?: unknown; message?: unknown };
      const planChanged = code === PLAN_CHANGED && String(message).includes('cached plan');
      if (!name || (!planChanged && code !== NOT_PREPARED)) throw error;
      names.set(text, `${name}_${++renamed}`);
      throw new RetryLaterError(`prepared statement out of date (${code}); prepared anew on the retry`);
    }
  };
  const plain = async (client: pg.PoolClient, text: string, values?: unknown[]) => {
    const result = (await client.query(text, values)) as pg.QueryResult | pg.QueryResult[];
    if (!Array.isArray(result)) return result;
    const answers = result.filter(({ command }) => command !== 'BEGIN' && command !== 'COMMIT');
    return answers.at(-1) ?? result.at(-1)!;
  };
  return {
    async connect() {
      const client = await pool.connect();
      return {
        query: ((text: unknown, values?: unknown[]) =>
          preparing && typeof text === 'string' && values && values.length > 0
            ? prepared(client, text, values)
            : plain(client, text as string, values)) as pg.PoolClient['query'],
        release: () => client.release(),
      };
    },
    end: () => pool.end(),
  };
}

/** A statement's text with its parameters written in as literals, for a text of several statements. */
function inlined({ sql: text, parameters }: CompiledQuery): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const value = prepareValue(parameters[Number(n) - 1]) as string | Buffer | null;
    if (value === null) return 'NULL';
    return Buffer.isBuffer(value) ? `'\\x${value.toString('hex')}'` : pg.escapeLiteral(value);
  });
}

/**
 * `($1, $2), ($3, $4)`: the VALUES of `rows` rows of `columns` parameters, for a statement compiled by
 * hand on a hot path (the query builder's own cost there is a tenth of a consumer's CPU).
 */
export function valuesList(rows: number, columns: number): string {
  const row = (n: number) =>
    `(${Array.from({ length: columns }, (_, column) => `$${n * columns + column + 1}`).join(', ')})`;
  return Array.from({ length: rows }, (_, n) => row(n)).join(', ');
}

/** A statement from the query builder, or one compiled already (a hot path's fixed text). */
export type EdgeStatement<R> = Compilable<R> | CompiledQuery<R>;

const compiled = <R>(statement: EdgeStatement<R>): CompiledQuery<R> =>
  'compile' in statement ? statement.compile() : statement;

export interface TransactionEdges {
  /** The transaction's first statement, sent with its BEGIN; its rows. */
  begin<R>(statement: EdgeStatement<R>): Promise<R[]>;
  /** Its last statement, if any, sent with its COMMIT. */
  commit(statement?: EdgeStatement<unknown>): Promise<void>;
}

/**
 * A transaction whose BEGIN goes with its first statement and whose COMMIT with its last, each pair as
 * one query of two statements (their parameters written in as literals: no prepared plan for them):
 * two round trips fewer than a transaction that sends BEGIN and COMMIT on their own. For a transaction
 * that runs often and whose first and last statements are small and known (a consumer's inbox rows,
 * its outbox rows). `work` must call `begin` before anything else; it is committed when `work`
 * returns without having called `commit`, and rolled back when it throws.
 */
export async function transactionWithEdges<T>(
  db: Db,
  work: (trx: Trx, edges: TransactionEdges) => Promise<T>,
): Promise<T> {
  return db.connection().execute(async (connection) => {
    let state = 'idle' as 'idle' | 'open' | 'ended';
    const edges: TransactionEdges = {
      async begin<R>(statement: EdgeStatement<R>) {
        if (state !== 'idle') throw new Error('the transaction has begun');
        state = 'open';
        const { rows } = await sql.raw<R>(`BEGIN; ${inlined(compiled(statement))}`).execute(connection);
        return rows;
      },
      async commit(statement?: EdgeStatement<unknown>) {
        if (state !== 'open') throw new Error('no transaction to commit');
        state = 'ended';
        await sql.raw(statement ? `${inlined(compiled(statement))}; COMMIT` : 'COMMIT').execute(connection);
      },
    };
    try {
      // Between BEGIN and COMMIT the connection is what a Transaction is, less its own begin and commit.
      const result = await work(connection as unknown as Trx, edges);
      if (state === 'open') await edges.commit();
      return result;
    } catch (error) {
      // After a failed "statement; COMMIT" the server has ended the transaction, or left it aborted.
      if (state !== 'idle')
        await sql
          .raw('ROLLBACK')
          .execute(connection)
          .catch(() => undefined);
      throw error;
    }
  });
}
