import { sql, type Kysely } from 'kysely';

// A session records the account's version when it logs in; a role or password change bumps it,
// which ends every other session of that account.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE identity.users ADD COLUMN session_version integer NOT NULL DEFAULT 1`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE identity.users DROP COLUMN session_version`.execute(db);
}
