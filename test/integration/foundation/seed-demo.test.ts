import { expect } from 'chai';
import { createDb, type Db } from '../../../lib/db/database.js';
import { migrateToLatest } from '../../../lib/db/migrate.js';
import { readSchedule } from '../../../lib/scheduling/schedule-repository.js';
import { DEFAULT_SCHEDULE } from '../../../lib/scheduling/slot-rules.js';
import { runNode } from '../../support/api-process.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-env.js';

describe('npm run seed:demo', function () {
  this.timeout(30_000);
  let environment: TestEnvironment;
  let db: Db;

  before(async () => {
    environment = await createTestEnvironment();
    db = createDb(environment.databaseUrl, 2);
    await migrateToLatest(db);
  });
  after(async () => {
    await db?.destroy();
    await environment?.drop();
  });

  it("seeds the catalogue and the spec's default schedule with the national holidays, and leaves an admin's schedule alone", async () => {
    const fresh = await readSchedule(db);
    expect({ ...fresh.schedule, closedDates: [] }).to.deep.equal(DEFAULT_SCHEDULE);

    const first = await runNode('server/cli/seed-demo.ts', { DATABASE_URL: environment.databaseUrl });
    expect(first.code, first.stderr).to.equal(0);
    const services = await db.selectFrom('catalogue.services').select('name').execute();
    expect(services.length).to.be.above(0);
    const seeded = await readSchedule(db);
    const year = Number(first.stdout.match(/closed on (\d{4})-01-26/)?.[1]);
    expect(seeded.schedule.closedDates).to.deep.equal(
      [year, year + 1].flatMap((y) => [`${y}-01-26`, `${y}-08-15`, `${y}-10-02`]),
    );
    expect(seeded.schedule.hours).to.deep.equal(DEFAULT_SCHEDULE.hours);
    expect(seeded).to.include({ version: fresh.version + 1, updatedBy: 'demo-seed' });
    const [audit] = await db
      .selectFrom('audit.entries')
      .selectAll()
      .where('type', '=', 'AdminScheduleUpdated')
      .execute();
    expect(audit?.actor).to.equal('demo-seed');

    const again = await runNode('server/cli/seed-demo.ts', { DATABASE_URL: environment.databaseUrl });
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).not.to.contain('demo schedule');
    expect((await readSchedule(db)).version).to.equal(seeded.version);
  });
});
