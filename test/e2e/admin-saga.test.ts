import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { createRedis } from '../../lib/bus/redis.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { createEvent } from '../../lib/events/catalogue.js';
import { upsertAdmin } from '../../lib/identity/user-service.js';
import { expectAccessible, logInOnPage, screenshots360And1280, watchedPage } from '../support/admin-pages.js';
import { launchBrowser } from '../support/browser.js';
import { createService, insertBooking } from '../support/factories.js';
import { FLOWS, book, patientClient, settled } from '../support/saga-helpers.js';
import { SagaSystem } from '../support/system.js';
import { waitFor } from '../support/wait.js';

// The Procfile's processes, the web among them, driven through the admin pages in a real browser:
// config changes and replays must travel to the workers and come back on the pages.
describe('admin pages over the running system', function () {
  this.timeout(60_000);
  let system: SagaSystem;
  let db: Db;
  let redis: Redis;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let url: string;
  const admin = { email: `admin-${randomUUID().slice(0, 8)}@example.com`, password: 'admin password 123' };

  before(async function () {
    this.timeout(200_000);
    db = createDb(process.env.DATABASE_URL!, 2);
    redis = createRedis(process.env.REDIS_URL!, 'worker', 'admin-e2e');
    // Three deliveries before a dead letter keep the poison test short.
    system = await SagaSystem.start({
      env: { SAGA_SWEEP_INTERVAL_MS: '100', PAYMENT_DELAY_MS: '100', BUS_MAX_DELIVERIES: '3' },
      envFor: { web: { SIGNUP_RATE_LIMIT: '1000' } },
      // Seven processes starting at once on a busy machine can take a while.
      readyTimeoutMs: 90_000,
    });
    url = system.url!;
    browser = await launchBrowser();
    await upsertAdmin(db, { ...admin, name: 'Asha Admin' });
  });

  beforeEach(async () => {
    ({ page, problems } = await watchedPage(browser));
    await logInOnPage(page, url, admin);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') system?.dump();
    await page?.context().close();
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    await redis?.quit();
    await db?.destroy();
    await system?.stop();
  });

  async function usedToday(): Promise<number> {
    const row = await db.selectFrom('quota.usage').select('used').orderBy('day', 'desc').executeTakeFirst();
    return row?.used ?? 0;
  }

  it('prices a booking with the price and percent an admin set on the pages, once every participant applied them', async () => {
    const service = await createService(db, { pricePaise: 50_000 });
    await page.goto(`${url}/admin/services?edit=${service.id}`);
    await page.getByLabel('Price (₹)').fill('1,500.00');
    await page.getByRole('button', { name: 'Save' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Saved “${service.name}”` })
      .waitFor();

    await page.goto(`${url}/admin/discounts`);
    await page.getByLabel('Discount percent').fill('15');
    await page.getByLabel('Daily discount quota').fill(String((await usedToday()) + 100));
    await page.getByLabel('Payment simulation').selectOption({ label: 'Success' });
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/admin\/discounts\?saved=\d+$/);
    const version = Number(new URL(page.url()).searchParams.get('saved'));
    // The page's script watches the participants apply the new version.
    await page
      .getByRole('status')
      .filter({ hasText: `Version ${version} took effect everywhere at` })
      .waitFor({ timeout: 15_000 });
    const rows = await page
      .locator('#applied-rows tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent)),
      );
    expect(rows).to.deep.equal([
      ['pricing', `${version} (current)`],
      ['discount-quota', `${version} (current)`],
      ['payment', `${version} (current)`],
    ]);
    await expectAccessible(page);
    await screenshots360And1280(page, 'admin-discounts-applied');

    const patient = await patientClient(url, db);
    const booking = await book(patient, [service.id]);
    const done = await settled(patient, booking.id);
    expect(done.status).to.equal('CONFIRMED');
    expect(done.services).to.deep.equal([{ id: service.id, name: service.name, pricePaise: 150_000 }]);
    expect(done.pricing).to.deep.equal({
      basePaise: 150_000,
      discountPercent: 15,
      discountPaise: 22_500,
      finalPaise: 127_500,
      discountApplied: true,
    });
    expect(problems).to.deep.equal([]);
  });

  it("shows a booking's correlation id and every step with its participant and the time since the last", async () => {
    const service = await createService(db, { pricePaise: 120_000 });
    const patient = await patientClient(url, db);
    const booking = await book(patient, [service.id]);
    const done = await settled(patient, booking.id, { events: FLOWS.discounted.length });
    expect(done.events.map((event) => event.type)).to.deep.equal(FLOWS.discounted);

    await page.goto(`${url}/admin/bookings?reference=${booking.reference}`);
    await page.getByRole('link', { name: booking.reference }).click();
    await page.getByRole('heading', { level: 1, name: `Booking ${booking.reference}` }).waitFor();
    expect(await page.locator('#correlation-id').innerText()).to.equal(booking.correlationId);
    const steps = page
      .getByRole('list')
      .filter({ has: page.locator('li[data-type]') })
      .locator('li');
    const texts = await steps.allInnerTexts();
    expect(await steps.evaluateAll((items) => items.map((li) => li.getAttribute('data-type')))).to.deep.equal(
      FLOWS.discounted,
    );
    const participants = ['booking', 'scheduling', 'pricing', 'discount-quota', 'payment', 'booking'];
    texts.forEach((text, i) => {
      expect(text).to.contain(`${participants[i]} · ${FLOWS.discounted[i]}`);
      if (i > 0) expect(text).to.match(/\d+(\.\d)? (ms|s) later/);
      else expect(text).not.to.contain('later');
    });
    await expectAccessible(page);
    await screenshots360And1280(page, 'admin-booking-trace');
    expect(problems).to.deep.equal([]);
  });

  it('updates the dashboard counts live when a booking completes, and draws its charts', async () => {
    await page.goto(`${url}/admin`);
    // The script has drawn the first figures it fetched.
    await page.locator('body[data-stats-at]').waitFor({ state: 'attached' });
    const confirmedCell = page.locator('[data-stat="status.CONFIRMED"]');
    const before = Number(await confirmedCell.innerText());

    const service = await createService(db, { pricePaise: 40_000 });
    const patient = await patientClient(url, db);
    const booking = await book(patient, [service.id]);
    expect((await settled(patient, booking.id)).status).to.equal('CONFIRMED');

    // No reload: the page's polling brings the new count.
    await page
      .locator('[data-stat="status.CONFIRMED"]', { hasText: new RegExp(`^${before + 1}$`) })
      .waitFor({ timeout: 15_000 });
    // What the charts hold: sums of the per-minute points, and the canvases they draw on.
    const drawn = (await page.evaluate(`(() => {
      const sum = (data) => data.reduce((total, n) => total + (n ?? 0), 0);
      const throughput = Chart.getChart('throughput-chart').data.datasets;
      const latency = Chart.getChart('latency-chart').data.datasets;
      return {
        requested: sum(throughput[0].data),
        confirmed: sum(throughput[1].data),
        latencyPoints: latency[0].data.filter((n) => n !== null).length,
        canvases: document.querySelectorAll('canvas').length,
      };
    })()`)) as { requested: number; confirmed: number; latencyPoints: number; canvases: number };
    expect(drawn.requested).to.be.at.least(1);
    expect(drawn.confirmed).to.be.at.least(1);
    expect(drawn.latencyPoints).to.be.at.least(1);
    expect(drawn.canvases).to.equal(2);
    expect(await page.locator('[data-stat="lag"] tr').count()).to.be.greaterThan(0);
    await expectAccessible(page);
    await screenshots360And1280(page, 'admin-dashboard-live');
    expect(problems).to.deep.equal([]);
  });

  it('lists a dead letter a poison event caused, replays it from the page once repaired, and the saga goes on', async () => {
    // A booking whose request names a service missing from the catalogue: pricing fails on every try
    // (on the walk-in's SlotSkipped, which carries the request on from scheduling).
    const missingService = randomUUID();
    const target = await insertBooking(db, { status: 'PENDING', patientName: 'Poison Case' });
    const poison = createEvent(
      'BookingRequested',
      {
        reference: target.reference,
        userId: randomUUID(),
        patient: {
          name: 'Poison Case',
          gender: 'male',
          dateOfBirth: '1980-01-01',
          phone: '9876543210',
          email: 'p@example.com',
        },
        serviceIds: [missingService],
        slotStart: null,
      },
      { bookingId: target.id, correlationId: target.correlationId, causationId: null },
    );
    const prefix = process.env.REDIS_PREFIX!;
    await redis.xadd(`${prefix}stream:booking`, '*', 'type', poison.type, 'event', JSON.stringify(poison));
    // And a message nobody can read, published the same way.
    await redis.xadd(
      `${prefix}stream:payment`,
      '*',
      'type',
      'PaymentCompleted',
      'event',
      JSON.stringify({ type: 'PaymentCompleted', data: 'not an event' }),
    );

    const letter = await waitFor(
      () =>
        db
          .selectFrom('bus.dead_letters')
          .selectAll()
          .where('consumer_group', '=', 'pricing')
          .where(sql<string>`payload->>'bookingId'`, '=', target.id)
          .executeTakeFirst(),
      { timeoutMs: 20_000, message: 'the poison dead-lettered by pricing' },
    );
    expect(letter).to.include({ consumer_group: 'pricing', type: 'SlotSkipped', deliveries: 3 });
    expect(letter.error).to.equal(`service ${missingService} is not in the catalogue`);
    await waitFor(
      async () =>
        (
          await db
            .selectFrom('bus.dead_letters')
            .select('consumer_group')
            .where('type', 'is', null)
            .where('stream', '=', 'payment')
            .execute()
        ).length >= 2,
      { message: 'the unreadable message dead-lettered by its two groups' },
    );

    await page.goto(`${url}/admin/dead-letters`);
    const row = page.locator(`#letter-${letter.id}`);
    const cells = await row.getByRole('cell').allInnerTexts();
    expect(cells.slice(0, 4)).to.deep.equal([
      'pricing\nstream scheduling',
      'SlotSkipped\nits booking',
      `service ${missingService} is not in the catalogue`,
      '3',
    ]);
    expect(await page.getByText('unreadable message').count()).to.be.at.least(2);
    await expectAccessible(page);
    await screenshots360And1280(page, 'admin-dead-letters-poison');

    // The repair: the catalogue gets the service back. Then the replay, from the page.
    await db
      .insertInto('catalogue.services')
      .values({
        id: missingService,
        name: `Restored ${missingService.slice(0, 8)}`,
        description: '',
        price_paise: 30_000,
        gender: 'all',
        active: true,
      })
      .execute();
    await row.getByRole('button', { name: 'Replay' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Replayed dead letter ${letter.id}` })
      .waitFor();
    expect(await page.locator(`#letter-${letter.id}`).count()).to.equal(0);

    await waitFor(
      async () =>
        (
          await db
            .selectFrom('booking.bookings')
            .select('status')
            .where('id', '=', target.id)
            .executeTakeFirstOrThrow()
        ).status === 'CONFIRMED',
      { timeoutMs: 20_000, message: 'the repaired booking confirmed' },
    );
    await page.reload();
    expect(
      await page.getByRole('row').filter({ hasText: 'SlotSkipped' }).filter({ hasText: 'Handled' }).count(),
    ).to.be.at.least(1);

    await page.goto(`${url}/admin/bookings/${target.id}`);
    const types = await page
      .locator('ol.timeline li')
      .evaluateAll((items) => items.map((li) => li.getAttribute('data-type')));
    expect(types.slice(0, 5)).to.deep.equal([
      'BookingRequested',
      'SlotSkipped',
      'DeadLettered',
      'DeadLetterReplayed',
      'ReplayHandled',
    ]);
    expect(types.slice(5)).to.deep.equal(FLOWS.undiscounted.slice(2));
    expect(await page.locator('ol.timeline li[data-type="DeadLetterReplayed"]').innerText()).to.contain(
      `replayed by ${admin.email} to pricing`,
    );
    const audit = await db
      .selectFrom('audit.entries')
      .select(['actor', 'correlation_id'])
      .where('type', '=', 'DeadLetterReplayed')
      .where('booking_id', '=', target.id)
      .execute();
    expect(audit).to.deep.equal([{ actor: admin.email, correlation_id: target.correlationId }]);
    await page.goto(`${url}/admin/logs?type=DeadLetterReplayed&actor=${encodeURIComponent(admin.email)}`);
    expect(await page.getByRole('row').filter({ hasText: target.correlationId }).count()).to.equal(1);
    expect(problems).to.deep.equal([]);
  });
});
