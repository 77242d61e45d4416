import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
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
    dialect: new PostgresDialect({ pool: preparedStatements ? preparingPool(pool) : pool }),
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
 * Sends every statement with parameters as a named (prepared) statement: PostgreSQL parses and plans
 * each distinct text once per connection, then only binds and executes it. Statements without
 * parameters (BEGIN, COMMIT, a migration's several statements) go as they are. When the server's copy
 * no longer fits (a migration changed the table under it) the text gets a new name and the error is
 * a transient one: the work is retried, and prepared anew.
 */
function preparingPool(pool: pg.Pool) {
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
  return {
    async connect() {
      const client = await pool.connect();
      return {
        query: ((text: unknown, values?: unknown[]) =>
          typeof text === 'string' && values && values.length > 0
            ? prepared(client, text, values)
            : client.query(text as never, values as never)) as pg.PoolClient['query'],
        release: () => client.release(),
      };
    },
    end: () => pool.end(),
  };
}
