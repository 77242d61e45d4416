import { parseArgs } from 'node:util';
import { z } from 'zod';
import { upsertAdmin } from '../../lib/identity/user-service.js';
import { createDb } from '../../lib/db/database.js';
import { configOrExit } from '../../lib/process.js';

// npm run seed:admin -- --email <email> --password <password>: creates that admin or resets it.
const { values } = parseArgs({
  options: { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' } },
});
const input = z
  .object({
    email: z.email(),
    password: z.string().min(10, 'at least 10 characters'),
    name: z.string().min(1).default('Clinic admin'),
  })
  .safeParse(values);
if (!input.success) {
  process.stderr.write(
    `usage: npm run seed:admin -- --email <email> --password <password (10+ chars)> [--name <name>]\n${z.prettifyError(input.error)}\n`,
  );
  process.exit(2);
}
const config = configOrExit();
const db = createDb(config.DATABASE_URL, 1);
try {
  const { created } = await upsertAdmin(db, input.data);
  process.stdout.write(`${created ? 'created' : 'reset'} admin ${input.data.email.toLowerCase()}\n`);
} finally {
  await db.destroy();
}
