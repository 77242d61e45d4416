import { sql, type Kysely } from 'kysely';

// audit_entries_at (at DESC) answers nothing that audit_entries_at_id (at DESC, id DESC), made for the
// audit log's keyset pages, does not: it only cost an entry per audit row, six per booking.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX audit.audit_entries_at`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX audit_entries_at ON audit.entries (at DESC)`.execute(db);
}
