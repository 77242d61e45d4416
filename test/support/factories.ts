import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import type { Db } from '../../lib/db/database.js';
import type { ServiceGender } from '../../lib/catalogue/service-rules.js';
import { upsertAdmin } from '../../lib/identity/user-service.js';
import { Client } from './http.js';

const unique = () => randomUUID().slice(0, 8);

export function buildPatient(
  overrides: Partial<{
    name: string;
    gender: 'female' | 'male' | 'other';
    dateOfBirth: string;
    phone: string;
    email: string;
  }> = {},
) {
  return {
    name: 'Meera Iyer',
    gender: 'male' as 'female' | 'male' | 'other',
    dateOfBirth: '1988-07-14',
    phone: '+91 98450 12345',
    email: `patient-${unique()}@example.com`,
    ...overrides,
  };
}

export function buildUser(overrides: Partial<{ name: string; email: string; password: string }> = {}) {
  return {
    name: 'Ravi Kumar',
    email: `user-${unique()}@example.com`,
    password: 'correct horse battery',
    ...overrides,
  };
}

/** A catalogue service written straight to the table (its own unique name). */
export async function createService(
  db: Db,
  overrides: Partial<{
    name: string;
    pricePaise: number;
    gender: ServiceGender;
    active: boolean;
    description: string;
  }> = {},
) {
  const row = await db
    .insertInto('catalogue.services')
    .values({
      name: overrides.name ?? `Test service ${unique()}`,
      description: overrides.description ?? 'A service made by a test.',
      price_paise: overrides.pricePaise ?? 50_000,
      gender: overrides.gender ?? 'all',
      active: overrides.active ?? true,
    })
    .returning(['id', 'name', 'price_paise'])
    .executeTakeFirstOrThrow();
  return { id: row.id, name: row.name, pricePaise: row.price_paise };
}

export async function signedUpPatient(app: Express) {
  const client = new Client(app);
  const user = await client.signup(buildUser());
  return { client, user };
}

export async function loggedInAdmin(app: Express, db: Db) {
  const credentials = {
    email: `admin-${unique()}@example.com`,
    password: 'admin password 123',
    name: 'Admin',
  };
  await upsertAdmin(db, credentials);
  const client = new Client(app);
  const user = await client.login(credentials);
  return { client, user };
}
