import { sql, type Kysely } from 'kysely';

// Every change to an account is announced after its commit, so the web can keep accounts in memory.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION identity.announce_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('identity_account_changed', OLD.id::text);
      RETURN NULL;
    END $$;
    CREATE TRIGGER account_changed AFTER UPDATE OR DELETE ON identity.users
      FOR EACH ROW EXECUTE FUNCTION identity.announce_account_change();
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TRIGGER account_changed ON identity.users;
    DROP FUNCTION identity.announce_account_change();
  `.execute(db);
}
