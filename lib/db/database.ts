import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import { errorFields, logger } from '../logger.js';
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
}

export function createDb(databaseUrl: string, options: DbOptions | number = {}): Db {
  const { poolSize = 10, statementTimeoutMs = 0 } =
    typeof options === 'number' ? { poolSize: options } : options;
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
    dialect: new PostgresDialect({ pool }),
    log: () => {
      statements++;
    },
  });
}
