import { demoCatalogue } from '../../lib/catalogue/demo-catalogue.js';
import { createDb } from '../../lib/db/database.js';
import { configOrExit } from '../../lib/process.js';

// Adds the demo services that are missing (by name); never changes what an admin edited.
const config = configOrExit();
const db = createDb(config.DATABASE_URL, 1);
try {
  const inserted = await db
    .insertInto('catalogue.services')
    .values(
      demoCatalogue.map((s) => ({
        name: s.name,
        description: s.description,
        price_paise: s.pricePaise,
        gender: s.gender,
        active: true,
      })),
    )
    .onConflict((conflict) => conflict.doNothing())
    .returning('id')
    .execute();
  process.stdout.write(`demo catalogue: ${inserted.length} services added\n`);
} finally {
  await db.destroy();
}
