import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import { ADMIN_PAGE_ROUTES } from '../../../server/routes/admin-pages.js';
import type { TestApp } from '../../support/app.js';
import { expectError, startApiApp, trackWrites } from '../../support/api-helpers.js';
import { createService, loggedInAdmin, signedUpPatient } from '../../support/factories.js';
import { Client } from '../../support/http.js';

describe('admin pages: access and hostile form input', function () {
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  let admin: { client: Client };
  let patient: { client: Client };

  before(async () => {
    testApp = await startApiApp();
    cleanUp = await trackWrites(testApp.db);
    admin = await loggedInAdmin(testApp.app, testApp.db);
    patient = await signedUpPatient(testApp.app);
  });

  after(async () => {
    await cleanUp?.();
    await testApp?.close();
  });

  /** A browser's form post: urlencoded, asking for HTML, with the session's CSRF token. */
  async function formPost(client: Client, path: string, body: string) {
    const token = await client.csrf();
    return client.agent
      .post(path)
      .type('form')
      .set('accept', 'text/html')
      .set('x-csrf-token', token)
      .send(body);
  }

  const concrete = (path: string) => path.replace(':id', path.includes('dead-letters') ? '1' : randomUUID());

  describe('every admin page route', function () {
    for (const route of ADMIN_PAGE_ROUTES) {
      const [method, path] = route.split(' ') as ['GET' | 'POST', string];
      it(`${route}: anonymous → the login page with next, patient → 403 page`, async () => {
        const url = concrete(path);
        const anonymous = new Client(testApp.app);
        const res =
          method === 'GET'
            ? await anonymous.agent.get(url).set('accept', 'text/html')
            : await formPost(anonymous, url, '');
        expect(res.status, res.text).to.be.oneOf([302, 303]);
        expect(res.headers.location).to.equal(`/login?next=${encodeURIComponent(url)}`);

        const refused =
          method === 'GET'
            ? await patient.client.agent.get(url).set('accept', 'text/html')
            : await formPost(patient.client, url, '');
        expect(refused.status).to.equal(403);
        expect(refused.headers['content-type']).to.match(/^text\/html/);
        expect(refused.text).to.contain('This page is for clinic admins only.');
      });
    }

    it('answers the replay-all API with 401 JSON to anonymous visitors and 403 JSON to patients', async () => {
      const anonymous = new Client(testApp.app);
      expectError(
        await anonymous.post('/api/admin/dead-letters/replay', { group: 'x' }),
        401,
        'unauthorized',
      );
      expectError(
        await patient.client.post('/api/admin/dead-letters/replay', { group: 'x' }),
        403,
        'forbidden',
      );
    });

    it('refuses an admin form without its CSRF token, writing nothing', async () => {
      const before = await counts();
      const res = await admin.client.agent
        .post('/admin/services')
        .type('form')
        .set('accept', 'text/html')
        .send('name=No+token&price=100&gender=all');
      expect(res.status).to.equal(403);
      expect(await counts()).to.deep.equal(before);
    });
  });

  async function counts() {
    // The changes themselves: every admin request is also audited on its own (AdminAction), refused or not.
    const { rows } = await sql<{ services: number; audit: number; version: number }>`
      SELECT (SELECT count(*) FROM catalogue.services)::int AS services,
             (SELECT count(*) FROM audit.entries
               WHERE type IN ('AdminServiceCreated', 'AdminServiceUpdated', 'AdminConfigUpdated'))::int AS audit,
             (SELECT version FROM settings.config WHERE id = 1) AS version`.execute(testApp.db);
    return rows[0]!;
  }

  describe('the services form', function () {
    const hostile: [string, string, string][] = [
      ['a negative price', 'name=Scan+neg&price=-5&gender=all', 'Price (₹): a number'],
      ['fractional paise', 'name=Scan+frac&price=10.005&gender=all', 'Price (₹): a number'],
      ['a price in words', 'name=Scan+words&price=ten&gender=all', 'Price (₹): a number'],
      ['too high a price', 'name=Scan+high&price=1000000.01&gender=all', 'Price (₹): at most ₹10,00,000.00'],
      ['an unknown audience', 'name=Scan+who&price=100&gender=children', 'For: Everyone, Women or Men'],
      ['an odd checkbox value', 'name=Scan+box&price=100&gender=all&active=yes', 'Active: true or false'],
      ['nothing at all', '', 'Name:'],
    ];
    for (const [name, body, message] of hostile) {
      it(`shows the form again for ${name} (400, the message by the field), writing nothing`, async () => {
        const before = await counts();
        const res = await formPost(admin.client, '/admin/services', body);
        expect(res.status, res.text.slice(0, 300)).to.equal(400);
        expect(res.headers['content-type']).to.match(/^text\/html/);
        expect(res.text).to.contain('There is a problem').and.contain(message.replace(/&/g, '&amp;'));
        expect(await counts()).to.deep.equal(before);
      });
    }

    // Refused before any route by the hostile-input guard: an error page, and nothing written.
    const refused: [string, string][] = [
      ['a doubled name', 'name=Scan&name=Scan+2&price=100&gender=all'],
      ['a NUL byte in the name', 'name=Scan%00x&price=100&gender=all'],
      ['a doubled percent', 'discountPercent=10&discountPercent=20'],
    ];
    for (const [name, body] of refused) {
      it(`answers 400 to ${name}, writing nothing`, async () => {
        const before = await counts();
        const path = name.includes('percent') ? '/admin/discounts' : '/admin/services';
        const res = await formPost(admin.client, path, body);
        expect(res.status).to.equal(400);
        expect(res.headers['content-type']).to.match(/^text\/html/);
        expect(await counts()).to.deep.equal(before);
      });
    }

    it('shows the edit form again for an empty or partial post, leaving the service as it was', async () => {
      const existing = await createService(testApp.db);
      const before = await counts();
      for (const body of ['', 'price=250']) {
        const res = await formPost(admin.client, `/admin/services/${existing.id}`, body);
        expect(res.status, body).to.equal(400);
        expect(res.text).to.contain('There is a problem').and.contain('Name:');
      }
      expect(await counts()).to.deep.equal(before);
      const row = await testApp.db
        .selectFrom('catalogue.services')
        .select(['active', 'price_paise', 'name'])
        .where('id', '=', existing.id)
        .executeTakeFirstOrThrow();
      expect(row).to.deep.equal({ active: true, price_paise: existing.pricePaise, name: existing.name });
    });

    it('answers 404 for a service that does not exist, and 409 on the form for a name taken', async () => {
      const existing = await createService(testApp.db);
      const whole = 'name=Scan+x&price=1&gender=all&active=on';
      expect((await formPost(admin.client, `/admin/services/${randomUUID()}`, whole)).status).to.equal(404);
      expect((await formPost(admin.client, '/admin/services/not-an-id', whole)).status).to.equal(404);
      const before = await counts();
      const taken = await formPost(
        admin.client,
        '/admin/services',
        `name=${encodeURIComponent(existing.name)}&price=100&gender=all`,
      );
      expect(taken.status).to.equal(409);
      expect(taken.text).to.contain('A service with this name already exists.');
      expect(await counts()).to.deep.equal(before);
    });
  });

  describe('the discounts form', function () {
    const hostile: [string, string, string][] = [
      ['a percent of 100.001', 'discountPercent=100.001', 'Discount percent: at most 100'],
      ['three decimals', 'discountPercent=12.345', 'Discount percent: at most two decimals'],
      ['a fractional quota', 'dailyDiscountQuota=10.5', 'Daily discount quota: a whole number'],
      ['an unknown mode', 'paymentSimulationMode=always', 'Payment simulation: success, fail or random'],
      ['a failure rate above 100 %', 'failureRatePercent=101', 'Failure rate (%): at most 1'],
    ];
    for (const [name, field, message] of hostile) {
      it(`shows the form again for ${name}, changing nothing`, async () => {
        const before = await counts();
        const body = `discountPercent=12&dailyDiscountQuota=100&paymentSimulationMode=success&failureRatePercent=20&${field}`;
        // The field under test comes last and wins where it repeats a default, except when doubled on purpose.
        const params = new URLSearchParams(body);
        const [key] = field.split('=');
        const values = new URLSearchParams(field).getAll(key!);
        params.delete(key!);
        for (const value of values) params.append(key!, value);
        const res = await formPost(admin.client, '/admin/discounts', params.toString());
        expect(res.status, res.text.slice(0, 300)).to.equal(400);
        expect(res.text).to.contain(message);
        expect(await counts()).to.deep.equal(before);
      });
    }

    it('saves a valid change, audited with the admin, and shows the new version waiting to apply', async () => {
      const before = await counts();
      const res = await formPost(
        admin.client,
        '/admin/discounts',
        'discountPercent=12.5&dailyDiscountQuota=150&paymentSimulationMode=random&failureRatePercent=35',
      );
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.equal(`/admin/discounts?saved=${before.version + 1}`);
      const config = await testApp.db.selectFrom('settings.config').selectAll().executeTakeFirstOrThrow();
      expect(config).to.deep.include({
        discount_basis_points: 1250,
        daily_discount_quota: 150,
        payment_simulation_mode: 'random',
        payment_failure_rate: 0.35,
        version: before.version + 1,
      });
      const page = await admin.client.agent.get(res.headers.location as string).set('accept', 'text/html');
      expect(page.text).to.contain(`Version ${before.version + 1} saved`);
    });
  });
});
