import { hash, verify } from '@node-rs/argon2';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { Role } from '../db/schema.js';
import { ConflictError } from '../errors.js';

export interface PublicUser {
  id: string;
  email: string;
  name: string;
  role: Role;
}

// argon2id with the library's defaults (19 MiB, 2 passes): OWASP's recommended minimum.
const hashPassword = (password: string) => hash(password);

// Verifying against a throwaway hash for unknown emails keeps the answer time alike: no user enumeration.
const unknownUserHash = hash('not-a-real-password-used-for-timing');

export async function createUser(
  db: Db,
  input: { email: string; name: string; password: string },
): Promise<PublicUser> {
  const user = await db
    .insertInto('identity.users')
    .values({
      email: input.email.toLowerCase(),
      name: input.name,
      password_hash: await hashPassword(input.password),
      role: 'user',
    })
    .onConflict((conflict) => conflict.column('email').doNothing())
    .returning(['id', 'email', 'name', 'role'])
    .executeTakeFirst();
  if (!user)
    throw new ConflictError('An account with this email already exists. Please log in.', 'email_taken');
  return user;
}

/** The user for these credentials, or null; the same work is done whether the email exists or not. */
export async function verifyCredentials(db: Db, email: string, password: string): Promise<PublicUser | null> {
  const row = await db
    .selectFrom('identity.users')
    .selectAll()
    .where('email', '=', email.toLowerCase())
    .executeTakeFirst();
  const ok = await verify(row?.password_hash ?? (await unknownUserHash), password);
  if (!row || !ok) return null;
  return { id: row.id, email: row.email, name: row.name, role: row.role };
}

export async function findUser(db: Db, id: string): Promise<PublicUser | null> {
  const user = await db
    .selectFrom('identity.users')
    .select(['id', 'email', 'name', 'role'])
    .where('id', '=', id)
    .executeTakeFirst();
  return user ?? null;
}

/** Creates the admin, or resets its password, name and role. */
export async function upsertAdmin(
  db: Db,
  input: { email: string; name: string; password: string },
): Promise<{ created: boolean }> {
  const email = input.email.toLowerCase();
  const passwordHash = await hashPassword(input.password);
  const row = await db
    .insertInto('identity.users')
    .values({ email, name: input.name, password_hash: passwordHash, role: 'admin' })
    .onConflict((conflict) =>
      conflict.column('email').doUpdateSet({ name: input.name, password_hash: passwordHash, role: 'admin' }),
    )
    // xmax is 0 on a freshly inserted row version, set on an updated one.
    .returning(sql<boolean>`xmax = 0`.as('inserted'))
    .executeTakeFirstOrThrow();
  return { created: row.inserted };
}
