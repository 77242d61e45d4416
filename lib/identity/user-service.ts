import { hash, verify } from '@node-rs/argon2';
import { Semaphore } from '../bus/semaphore.js';
import type { Db } from '../db/database.js';
import type { Role } from '../db/schema.js';
import { ConflictError } from '../errors.js';

export interface PublicUser {
  id: string;
  email: string;
  name: string;
  role: Role;
}

/** The account as a session sees it: a session of an older version is no longer logged in. */
export interface AccountUser extends PublicUser {
  sessionVersion: number;
}

export const toPublicUser = ({ id, email, name, role }: PublicUser): PublicUser => ({
  id,
  email,
  name,
  role,
});

const accountColumns = ['id', 'email', 'name', 'role', 'session_version'] as const;
const toAccount = (row: PublicUser & { session_version: number }): AccountUser => ({
  ...toPublicUser(row),
  sessionVersion: row.session_version,
});

// argon2id with the library's defaults (19 MiB, 2 passes): OWASP's recommended minimum. Two at a
// time: each holds its 19 MiB while it runs, and a burst of sign-ups must not swell the web's memory.
const hashing = new Semaphore(2);
const hashPassword = (password: string) => hashing.run(() => hash(password));
const verifyPassword = (passwordHash: string, password: string) =>
  hashing.run(() => verify(passwordHash, password));

// Verifying against a throwaway hash for unknown emails keeps the answer time alike: no user enumeration.
const unknownUserHash = hashPassword('not-a-real-password-used-for-timing');

export async function createUser(
  db: Db,
  input: { email: string; name: string; password: string },
): Promise<AccountUser> {
  const user = await db
    .insertInto('identity.users')
    .values({
      email: input.email.toLowerCase(),
      name: input.name,
      password_hash: await hashPassword(input.password),
      role: 'user',
    })
    .onConflict((conflict) => conflict.column('email').doNothing())
    .returning(accountColumns)
    .executeTakeFirst();
  if (!user)
    throw new ConflictError('An account with this email already exists. Please log in.', 'email_taken');
  return toAccount(user);
}

/** The user for these credentials, or null; the same work is done whether the email exists or not. */
export async function verifyCredentials(
  db: Db,
  email: string,
  password: string,
): Promise<AccountUser | null> {
  const row = await db
    .selectFrom('identity.users')
    .selectAll()
    .where('email', '=', email.toLowerCase())
    .executeTakeFirst();
  const ok = await verifyPassword(row?.password_hash ?? (await unknownUserHash), password);
  if (!row || !ok) return null;
  return toAccount(row);
}

export async function findUser(db: Db, id: string): Promise<AccountUser | null> {
  const user = await db
    .selectFrom('identity.users')
    .select(accountColumns)
    .where('id', '=', id)
    .executeTakeFirst();
  return user ? toAccount(user) : null;
}

/** A new password ends the account's other sessions; returns the version the current one moves to. */
export async function changePassword(
  db: Db,
  input: { userId: string; currentPassword: string; newPassword: string },
): Promise<number | null> {
  const row = await db
    .selectFrom('identity.users')
    .select('password_hash')
    .where('id', '=', input.userId)
    .executeTakeFirst();
  if (!row || !(await verifyPassword(row.password_hash, input.currentPassword))) return null;
  const passwordHash = await hashPassword(input.newPassword);
  const updated = await db
    .updateTable('identity.users')
    .set((eb) => ({
      password_hash: passwordHash,
      session_version: eb('session_version', '+', 1),
    }))
    .where('id', '=', input.userId)
    .returning('session_version')
    .executeTakeFirstOrThrow();
  return updated.session_version;
}

export class PromotionRefusedError extends ConflictError {
  constructor(email: string) {
    super(
      `${email} belongs to a patient account; pass --promote to make it an admin (its sessions end).`,
      'promotion_refused',
    );
  }
}

/**
 * Creates the admin, or resets its password and name. An account someone signed up with becomes an
 * admin only when `promote` says so. Any change ends the account's sessions (its version moves on).
 */
export async function upsertAdmin(
  db: Db,
  input: { email: string; name: string; password: string },
  options: { promote?: boolean } = {},
): Promise<{ created: boolean; promoted: boolean }> {
  const email = input.email.toLowerCase();
  const passwordHash = await hashPassword(input.password);
  return db.transaction().execute(async (trx) => {
    const existing = await trx
      .selectFrom('identity.users')
      .select('role')
      .where('email', '=', email)
      .forUpdate()
      .executeTakeFirst();
    if (!existing) {
      const inserted = await trx
        .insertInto('identity.users')
        .values({ email, name: input.name, password_hash: passwordHash, role: 'admin' })
        .onConflict((conflict) => conflict.column('email').doNothing())
        .returning('id')
        .executeTakeFirst();
      // Someone signed up with this email meanwhile: refuse rather than promote by accident.
      if (!inserted) throw new PromotionRefusedError(email);
      return { created: true, promoted: false };
    }
    const promoted = existing.role !== 'admin';
    if (promoted && !options.promote) throw new PromotionRefusedError(email);
    await trx
      .updateTable('identity.users')
      .set((eb) => ({
        name: input.name,
        password_hash: passwordHash,
        role: 'admin',
        session_version: eb('session_version', '+', 1),
      }))
      .where('email', '=', email)
      .execute();
    return { created: false, promoted };
  });
}
