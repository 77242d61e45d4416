import { demoCatalogue } from '../../lib/catalogue/demo-catalogue.js';
import { istToday, systemClock } from '../../lib/clock.js';
import { createDb } from '../../lib/db/database.js';
import { configOrExit } from '../../lib/process.js';
import { getSchedule, updateSchedule } from '../../lib/scheduling/schedule-service.js';

/** India's national holidays, on which the demo clinic is closed. */
function nationalHolidays(year: number): string[] {
  return ['01-26', '08-15', '10-02'].map((day) => `${year}-${day}`);
}

// Adds the demo services that are missing (by name) and the holidays to a schedule no admin has
// changed (the spec's default hours come with the migration); never changes what an admin edited.
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
  const schedule = await getSchedule(db);
  if (schedule.updatedBy === null) {
    const year = Number(istToday(systemClock).slice(0, 4));
    const closedDates = [...nationalHolidays(year), ...nationalHolidays(year + 1)];
    await updateSchedule(db, systemClock, 'demo-seed', { closedDates });
    process.stdout.write(`demo schedule: closed on ${closedDates.join(', ')}\n`);
  }
} finally {
  await db.destroy();
}
