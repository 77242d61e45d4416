import { expect } from 'chai';
import { sql } from 'kysely';
import { fixedClock } from '../../../lib/clock.js';
import { priceBooking } from '../../../lib/pricing/pricing-rules.js';
import type { TestApp } from '../../support/app.js';
import { expectError, startApiApp, trackWrites } from '../../support/api-helpers.js';
import { buildPatient, createService, signedUpPatient } from '../../support/factories.js';
import { Client } from '../../support/http.js';

// A day of its own (14 Mar 2031 in IST), so this file's quota rows touch no other test's day.
const NOW = '2031-03-14T06:00:00.000Z';
const TODAY = '2031-03-14';

describe('API: POST /api/quote prices a booking without writing anything', function () {
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  let patient: Client;
  let consult: { id: string; name: string; pricePaise: number };
  let scan: { id: string; name: string; pricePaise: number };
  let mammography: { id: string };
  let limitBefore: number;
  let percentBefore: number;

  before(async () => {
    testApp = await startApiApp({ clock: fixedClock(NOW) });
    cleanUp = await trackWrites(testApp.db);
    patient = (await signedUpPatient(testApp.app)).client;
    consult = await createService(testApp.db, { pricePaise: 60_000 });
    scan = await createService(testApp.db, { pricePaise: 63_457 });
    mammography = await createService(testApp.db, { pricePaise: 250_000, gender: 'female' });
    limitBefore = (
      await testApp.db.selectFrom('quota.settings').select('daily_limit').executeTakeFirstOrThrow()
    ).daily_limit;
    percentBefore = (
      await testApp.db
        .selectFrom('pricing.settings')
        .select('discount_basis_points')
        .executeTakeFirstOrThrow()
    ).discount_basis_points;
  });

  afterEach(async () => {
    await testApp.db.deleteFrom('quota.usage').where('day', '=', TODAY).execute();
    await testApp.db.updateTable('quota.settings').set({ daily_limit: limitBefore }).execute();
    await testApp.db.updateTable('pricing.settings').set({ discount_basis_points: percentBefore }).execute();
  });

  after(async () => {
    await cleanUp?.();
    await testApp?.close();
  });

  /** Everything a quote could wrongly write to. */
  async function footprint() {
    const { rows } = await sql<Record<string, string>>`
      SELECT (SELECT count(*) FROM booking.bookings) AS bookings,
             (SELECT count(*) FROM bus.outbox) AS outbox,
             (SELECT count(*) FROM quota.reservations) AS reservations,
             (SELECT coalesce(sum(used), 0) FROM quota.usage) AS used`.execute(testApp.db);
    return rows[0];
  }

  const quote = (body: object) => patient.post('/api/quote', body);

  it('expects the discount above ₹1,000 with the pricing participant’s rules and today’s quota', async () => {
    const details = buildPatient({ gender: 'male' });
    const before = await footprint();
    const res = await quote({ patient: details, serviceIds: [consult.id, scan.id] });
    expect(res.status, res.text).to.equal(200);
    const expected = priceBooking({
      services: [consult, scan],
      patient: details,
      discountBasisPoints: percentBefore,
      today: TODAY,
    });
    expect(res.body.quote.pricing).to.deep.equal({
      basePaise: 123_457,
      discountEligible: true,
      eligibility: 'amount',
      discountPercent: percentBefore / 100,
      discountPaise: expected.discountPaise,
      finalPaise: expected.finalPaise,
    });
    expect(res.body.quote.services.map((s: { id: string }) => s.id)).to.deep.equal([consult.id, scan.id]);
    expect(res.body.quote.outcome).to.equal('discount');
    expect(res.body.quote.quota).to.deep.equal({ date: TODAY, used: 0, limit: limitBefore });
    expect(await footprint()).to.deep.equal(before);
  });

  it('uses the percent the pricing participant has applied', async () => {
    await testApp.db.updateTable('pricing.settings').set({ discount_basis_points: 1250 }).execute();
    const res = await quote({ patient: buildPatient(), serviceIds: [consult.id, scan.id] });
    // 123457 × 12.5 % = 15432.125 → 15432 paise.
    expect(res.body.quote.pricing).to.include({ discountPercent: 12.5, discountPaise: 15_432 });
  });

  it('expects no discount at ₹1,000.00 or below, and a birthday discount on her IST birthday', async () => {
    const small = await quote({ patient: buildPatient({ gender: 'female' }), serviceIds: [consult.id] });
    expect(small.body.quote.outcome).to.equal('none');
    expect(small.body.quote.pricing).to.include({ discountPaise: 0, finalPaise: 60_000, eligibility: null });

    const birthday = await quote({
      patient: buildPatient({ gender: 'female', dateOfBirth: '1990-03-14' }),
      serviceIds: [consult.id],
    });
    expect(birthday.body.quote.outcome).to.equal('discount');
    expect(birthday.body.quote.pricing).to.include({ eligibility: 'birthday', discountPaise: 7_200 });
  });

  it('says an eligible booking would be rejected when the day’s quota is used up', async () => {
    await testApp.db.updateTable('quota.settings').set({ daily_limit: 3 }).execute();
    await testApp.db.insertInto('quota.usage').values({ day: TODAY, used: 3 }).execute();
    const before = await footprint();
    const res = await quote({ patient: buildPatient(), serviceIds: [consult.id, scan.id] });
    expect(res.body.quote.outcome).to.equal('quota_reached');
    expect(res.body.quote.reason).to.equal('Daily discount quota reached. Please try again tomorrow.');
    expect(res.body.quote.quota).to.deep.equal({ date: TODAY, used: 3, limit: 3 });
    expect(res.body.quote.pricing).to.include({
      discountEligible: true,
      discountPaise: 0,
      finalPaise: 123_457,
    });
    expect(await footprint()).to.deep.equal(before);

    const notEligible = await quote({ patient: buildPatient(), serviceIds: [consult.id] });
    expect(notEligible.body.quote.outcome).to.equal('none');
  });

  it('refuses what a booking would refuse, with the error shape and nothing written', async () => {
    const before = await footprint();
    const good = { patient: buildPatient(), serviceIds: [consult.id] };
    const cases: [string, object, number][] = [
      ['an empty body', {}, 400],
      ['a doubled gender', { ...good, patient: { ...good.patient, gender: ['male', 'female'] } }, 400],
      [
        'a date of birth in the future',
        { ...good, patient: { ...good.patient, dateOfBirth: '2031-03-15' } },
        400,
      ],
      ['a date that is no date', { ...good, patient: { ...good.patient, dateOfBirth: '2023-02-29' } }, 400],
      ['no services', { ...good, serviceIds: [] }, 400],
      ['a malformed service id', { ...good, serviceIds: ['1; DROP TABLE'] }, 400],
      ['serviceIds of the wrong type', { ...good, serviceIds: consult.id }, 400],
      ['a women-only service for a man', { ...good, serviceIds: [mammography.id] }, 422],
      ['an unknown service', { ...good, serviceIds: ['00000000-0000-4000-8000-000000000000'] }, 422],
    ];
    for (const [name, body, status] of cases) {
      const res = await quote(body);
      expect(res.status, name).to.equal(status);
      expectError(res, status);
    }
    expectError(await patient.post('/api/quote'), 400);
    expectError(await new Client(testApp.app).post('/api/quote', good), 401);
    const noToken = await patient.agent.post('/api/quote').send(good);
    expectError(noToken, 403, 'csrf_invalid');
    expect(await footprint()).to.deep.equal(before);
  });
});
