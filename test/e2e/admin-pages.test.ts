import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { createEvent } from '../../lib/events/catalogue.js';
import { createUser, upsertAdmin } from '../../lib/identity/user-service.js';
import { trackWrites } from '../support/api-helpers.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { expectAccessible, logInOnPage, screenshots360And1280, watchedPage } from '../support/admin-pages.js';
import { launchBrowser, serve } from '../support/browser.js';
import { buildUser, createService, insertBooking as insertBookingRow } from '../support/factories.js';

describe('admin pages in a real browser', function () {
  this.timeout(60_000);
  let testApp: TestApp;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let cleanUp: () => Promise<void>;
  let owner: string;
  const admin = { email: `admin-${randomUUID().slice(0, 8)}@example.com`, password: 'admin password 123' };

  before(async () => {
    testApp = await startTestApp();
    cleanUp = await trackWrites(testApp.db);
    owner = (await createUser(testApp.db, buildUser())).id;
    server = await serve(testApp.app);
    browser = await launchBrowser();
    await upsertAdmin(testApp.db, { ...admin, name: 'Asha Admin' });
  });

  beforeEach(async () => {
    ({ page, problems } = await watchedPage(browser));
    await logInOnPage(page, server.url, admin);
  });

  afterEach(async () => {
    await page.context().close();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await cleanUp?.();
    await testApp?.close();
  });

  // Rows of an account made by this file, so that trackWrites removes them afterwards.
  const insertBooking = (overrides: Parameters<typeof insertBookingRow>[1] = {}) =>
    insertBookingRow(testApp.db, { userId: owner, ...overrides });

  async function deadLetter(options: { readable: boolean; group: string }) {
    const event = createEvent(
      'PaymentCompleted',
      { amountPaise: 100, gatewayReference: 'sim_1' },
      { bookingId: randomUUID(), correlationId: randomUUID(), causationId: null },
    );
    const row = await testApp.db
      .insertInto('bus.dead_letters')
      .values({
        stream: 'payment',
        entry_id: `${Date.now()}-${Math.floor(Math.random() * 1000)}`,
        consumer_group: options.group,
        event_id: options.readable ? event.eventId : null,
        type: options.readable ? event.type : null,
        payload: JSON.stringify(
          options.readable ? event : { type: 'PaymentCompleted', data: 'not an event' },
        ),
        error: options.readable ? 'unknown booking' : 'invalid envelope: data expected object',
        deliveries: options.readable ? 5 : 1,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { id: row.id, event };
  }

  it('links every admin page from the navigation, and each passes axe at 360 and 1280 px without console errors', async () => {
    const booking = await insertBooking({ patientName: 'Nav Check Patient' });
    await deadLetter({ readable: false, group: 'nav-check' });
    await page.goto(`${server.url}/admin`);
    const nav = page.getByRole('navigation', { name: 'Main' });
    const pages = [
      ['Dashboard', '/admin', 'Dashboard'],
      ['Bookings', '/admin/bookings', 'Bookings'],
      ['Appointments', '/admin/appointments', /^Appointments on /],
      ['Services', '/admin/services', 'Services'],
      ['Discounts', '/admin/discounts', 'Discounts'],
      ['Schedule', '/admin/schedule', 'Schedule'],
      ['Logs', '/admin/logs', 'Logs'],
      ['Dead letters', '/admin/dead-letters', 'Dead letters'],
    ] as const;
    for (const [link, path, heading] of pages) {
      await nav.getByRole('link', { name: link, exact: true }).click();
      await page.waitForURL(`${server.url}${path}`);
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
      expect(await nav.getByRole('link', { name: link, exact: true }).getAttribute('aria-current')).to.equal(
        'page',
      );
      await expectAccessible(page);
      await screenshots360And1280(
        page,
        `admin${path.replace(/\//g, '-').replace(/^-admin/, '') || '-dashboard'}`,
      );
    }
    await page.goto(`${server.url}/admin/bookings/${booking.id}`);
    await page.getByRole('heading', { level: 1, name: `Booking ${booking.reference}` }).waitFor();
    await expectAccessible(page);
    await screenshots360And1280(page, 'admin-booking');
    expect(problems).to.deep.equal([]);
  });

  it('draws the dashboard charts from the stats endpoint: 60 minutes of data points each', async () => {
    await page.goto(`${server.url}/admin`);
    // The script has drawn the first figures it fetched.
    await page.locator('body[data-stats-at]').waitFor({ state: 'attached' });
    const points = await page.evaluate(() => {
      const chart = (
        globalThis as unknown as {
          Chart: { getChart(id: string): { data: { datasets: { data: unknown[] }[] } } };
        }
      ).Chart;
      return ['throughput-chart', 'latency-chart'].map((id) =>
        chart.getChart(id).data.datasets.map((dataset) => dataset.data.length),
      );
    });
    expect(points).to.deep.equal([
      [60, 60, 60],
      [60, 60],
    ]);
    expect(problems).to.deep.equal([]);
  });

  it('creates a service from rupees typed with a comma, after showing what was wrong beside each field', async () => {
    const name = `Thyroid panel ${randomUUID().slice(0, 6)}`;
    const countServices = async () =>
      Number(
        (
          await testApp.db
            .selectFrom('catalogue.services')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await countServices();
    await page.goto(`${server.url}/admin/services`);
    await page.getByLabel('Name').fill('X');
    await page.getByLabel('Price (₹)').fill('12.345');
    await page.getByRole('button', { name: 'Save' }).click();
    const summary = page.getByRole('alert');
    await summary.waitFor();
    expect(await summary.innerText())
      .to.contain('Name: at least 2 characters')
      .and.contain('Price (₹): a number');
    expect(await page.locator('#name-error').innerText()).to.contain('at least 2 characters');
    expect(await page.locator('#price-error').innerText()).to.contain('a number');
    expect(await page.getByLabel('Price (₹)').inputValue()).to.equal('12.345');
    await expectAccessible(page);
    await screenshots360And1280(page, 'admin-services-errors');
    expect(await countServices()).to.equal(before);

    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Description').fill('TSH, T3 and T4.');
    await page.getByLabel('Price (₹)').fill('1,234.50');
    await page.getByLabel('For').selectOption({ label: 'Women' });
    await page.getByRole('button', { name: 'Save' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Saved “${name}”` })
      .waitFor();
    const row = page.getByRole('row').filter({ hasText: name });
    expect((await row.getByRole('cell').allInnerTexts()).slice(0, 4)).to.deep.equal([
      `${name}\nTSH, T3 and T4.`,
      'Women',
      '₹1,234.50',
      'Yes',
    ]);
    const stored = await testApp.db
      .selectFrom('catalogue.services')
      .select(['price_paise', 'gender', 'active'])
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    expect(stored).to.deep.equal({ price_paise: 123_450, gender: 'female', active: true });

    await row.getByRole('link', { name: `Edit ${name}` }).click();
    await page.getByRole('heading', { name: `Edit ${name}` }).waitFor();
    expect(await page.getByLabel('Price (₹)').inputValue()).to.equal('1234.50');
    await page.getByLabel('Price (₹)').fill('999');
    await page.getByLabel('Active').uncheck();
    await page.getByRole('button', { name: 'Save' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Saved “${name}”` })
      .waitFor();
    expect(
      await page.getByRole('row').filter({ hasText: name }).getByRole('cell').nth(3).innerText(),
    ).to.equal('No');
    const edited = await testApp.db
      .selectFrom('catalogue.services')
      .select(['price_paise', 'active'])
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    expect(edited).to.deep.equal({ price_paise: 99_900, active: false });
    const audit = await testApp.db
      .selectFrom('audit.entries')
      .select(['type', 'actor'])
      .where('type', 'in', ['AdminServiceCreated', 'AdminServiceUpdated'])
      .where(({ ref }) => ref('data'), '@>' as never, JSON.stringify({ after: { name } }) as never)
      .orderBy('id')
      .execute();
    expect(audit).to.deep.equal([
      { type: 'AdminServiceCreated', actor: admin.email },
      { type: 'AdminServiceUpdated', actor: admin.email },
    ]);
    expect(problems).to.deep.equal([]);
  });

  it('refuses a discount of 100.001 % on the discounts page and changes nothing', async () => {
    const before = await testApp.db.selectFrom('settings.config').selectAll().executeTakeFirstOrThrow();
    await page.goto(`${server.url}/admin/discounts`);
    expect(await page.getByText(/Discounts given today .*: \d+ used of \d+/).count()).to.equal(1);
    expect(await page.getByLabel('Payment simulation').locator('option').allInnerTexts()).to.deep.equal([
      'Success',
      'Fail',
      'Random',
    ]);
    await page.getByLabel('Discount percent').fill('100.001');
    await page.getByLabel('Daily discount quota').fill('-1');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.locator('#discount-percent-error').innerText()).to.contain('at most 100');
    expect(await page.locator('#daily-quota-error').innerText()).to.contain('at least 0');
    await expectAccessible(page);
    await screenshots360And1280(page, 'admin-discounts-errors');
    const after = await testApp.db.selectFrom('settings.config').selectAll().executeTakeFirstOrThrow();
    expect(after.version).to.equal(before.version);
    expect(problems).to.deep.equal([]);
  });

  it('filters bookings by patient name and IST dates, and pages through them newest first', async () => {
    const token = `Pager${randomUUID().slice(0, 6)}`;
    // 10 March 2031 in IST runs from 09 March 18:30 UTC to 10 March 18:30 UTC.
    const times = [
      '2031-03-09T18:29:00Z', // 9 March IST: outside
      '2031-03-09T18:31:00Z',
      '2031-03-10T06:00:00Z',
      '2031-03-10T09:00:00Z',
      '2031-03-10T12:00:00Z',
      '2031-03-10T18:29:59Z',
      '2031-03-10T18:30:00Z', // 11 March IST: outside
    ];
    const rows = [];
    for (const at of times) {
      rows.push(await insertBooking({ patientName: `${token} Rao`, createdAt: new Date(at) }));
    }
    const inside = rows.slice(1, 6).reverse();
    await page.goto(`${server.url}/admin/bookings?limit=2`);
    await page.getByLabel('Patient name').fill(token.toLowerCase());
    await page.getByLabel('From (IST date)').fill('2031-03-10');
    await page.getByLabel('To (IST date)').fill('2031-03-10');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/patientName=/);
    expect(await page.getByRole('status').innerText()).to.equal('5 matching bookings, newest first.');
    const seen: string[] = [];
    for (;;) {
      const references = await page.locator('tbody tr td:first-child a').allInnerTexts();
      seen.push(...references);
      const next = page.getByRole('link', { name: 'Next page' });
      if ((await next.count()) === 0) break;
      await next.click();
      await page.waitForLoadState();
    }
    expect(seen).to.deep.equal(inside.map((row) => row.reference));
    expect(problems).to.deep.equal([]);
  });

  it('shows the filter form again with a message for an impossible date, never an error page', async () => {
    const res = await page.goto(`${server.url}/admin/bookings?from=2031-02-30&status=DONE`);
    expect(res?.status()).to.equal(400);
    expect(await page.locator('#from-error').innerText()).to.contain('a date from 2000 to 2100');
    expect(await page.locator('#status-error').innerText()).to.contain('a booking status');
    const logs = await page.goto(`${server.url}/admin/logs?correlationId=not-an-id&from=3000-01-01T00:00`);
    expect(logs?.status()).to.equal(400);
    expect(await page.locator('#correlation-id-error').innerText()).to.contain('correlation id');
    expect(await page.locator('#from-error').innerText()).to.contain('from 2000 to 2100');
    await expectAccessible(page);
  });

  it('lists dead letters with group, type, error, deliveries and age; an unreadable one cannot be replayed', async () => {
    const group = `pages-${randomUUID().slice(0, 6)}`;
    const unreadable = await deadLetter({ readable: false, group });
    await page.goto(`${server.url}/admin/dead-letters`);
    const row = page.locator(`#letter-${unreadable.id}`);
    expect(await row.getByRole('cell').allInnerTexts()).to.satisfy((cells: string[]) =>
      [
        cells[0] === `${group}\nstream payment`,
        cells[1] === 'unreadable message (cannot be replayed)',
        cells[2] === 'invalid envelope: data expected object',
        cells[3] === '1',
        /^\d+ s$/.test(cells[4] ?? ''),
      ].every(Boolean),
    );
    await row.getByRole('button', { name: 'Replay' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').innerText()).to.contain('not a valid event and cannot be replayed');
    expect(await page.locator(`#letter-${unreadable.id}`).count()).to.equal(1);
    expect(problems).to.deep.equal([]);
  });

  it('replays all readable dead letters of a group at once, each audited with the admin', async () => {
    const group = `all-${randomUUID().slice(0, 6)}`;
    const letters = [
      await deadLetter({ readable: true, group }),
      await deadLetter({ readable: true, group }),
    ];
    await deadLetter({ readable: false, group });
    await page.goto(`${server.url}/admin/dead-letters`);
    await page.getByRole('button', { name: `Replay all of ${group}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Replayed 2 dead letters of ${group}` })
      .waitFor();
    for (const { id } of letters) expect(await page.locator(`#letter-${id}`).count()).to.equal(0);
    const audit = await testApp.db
      .selectFrom('audit.entries')
      .select(['actor', 'booking_id', 'correlation_id'])
      .where('type', '=', 'DeadLetterReplayed')
      .where(({ ref }) => ref('data'), '@>' as never, JSON.stringify({ group }) as never)
      .orderBy('id')
      .execute();
    expect(audit).to.deep.equal(
      letters.map(({ event }) => ({
        actor: admin.email,
        booking_id: event.bookingId,
        correlation_id: event.correlationId,
      })),
    );
    expect(problems).to.deep.equal([]);
  });

  it('escapes what admins and patients typed', async () => {
    const name = `<img src=x onerror=alert(1)> ${randomUUID().slice(0, 6)}`;
    await createService(testApp.db, { name });
    const booking = await insertBooking({ patientName: '<script>alert(1)</script>' });
    await page.goto(`${server.url}/admin/services`);
    expect(await page.getByRole('row').filter({ hasText: name }).count()).to.equal(1);
    await page.goto(`${server.url}/admin/bookings/${booking.id}`);
    expect(await page.getByText('<script>alert(1)</script>', { exact: false }).count()).to.be.greaterThan(0);
    expect(await page.locator('img[src="x"]').count()).to.equal(0);
    expect(problems).to.deep.equal([]);
  });
});
