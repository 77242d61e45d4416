import { parseArgs } from 'node:util';
import { z } from 'zod';
import { PromotionRefusedError, upsertAdmin } from '../../lib/identity/user-service.js';
import { createDb } from '../../lib/db/database.js';
import { configOrExit } from '../../lib/process.js';

// npm run seed:admin -- --email <email> --password <password> [--promote]: creates that admin or resets it.
const { values } = parseArgs({
  options: {
    email: { type: 'string' },
    password: { type: 'string' },
    name: { type: 'string' },
    promote: { type: 'boolean', default: false },
  },
});
const input = z
  .object({
    email: z.email(),
    password: z.string().min(10, 'at least 10 characters').max(200),
    name: z.string().trim().min(1).max(100).default('Clinic admin'),
    promote: z.boolean(),
  })
  .safeParse(values);
if (!input.success) {
  process.stderr.write(
    `usage: npm run seed:admin -- --email <email> --password <password (10+ chars)> [--name <name>] [--promote]\n${z.prettifyError(input.error)}\n`,
  );
  process.exit(2);
}
const config = configOrExit();
const db = createDb(config.DATABASE_URL, 1);
const { promote, ...admin } = input.data;
try {
  const { created, promoted } = await upsertAdmin(db, admin, { promote });
  const what = created ? 'created' : promoted ? 'promoted to' : 'reset';
  process.stdout.write(`${what} admin ${admin.email.toLowerCase()}\n`);
} catch (error) {
  if (!(error instanceof PromotionRefusedError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exitCode = 3;
} finally {
  await db.destroy();
}
