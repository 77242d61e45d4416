import { createDb } from '../../lib/db/database.js';
import { migrateToLatest } from '../../lib/db/migrate.js';
import { configOrExit } from '../../lib/process.js';

// The Procfile's release step: safe to run twice and from several places at once.
const config = configOrExit();
const db = createDb(config.DATABASE_URL, 1);
try {
  const applied = await migrateToLatest(db);
  process.stdout.write(
    applied.length > 0 ? `applied migrations: ${applied.join(', ')}\n` : 'database is up to date\n',
  );
} finally {
  await db.destroy();
}
