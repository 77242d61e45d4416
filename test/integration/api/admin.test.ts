import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import supertest from 'supertest';
import { fixedClock, istDate } from '../../../lib/clock.js';
import { createEvent } from '../../../lib/events/catalogue.js';
import type { TestApp } from '../../support/app.js';
import { expectError, startApiApp, trackWrites, type Answer } from '../../support/api-helpers.js';
import { buildPatient, createService, loggedInAdmin, signedUpPatient } from '../../support/factories.js';
import { Client } from '../../support/http.js';

type Method = 'get' | 'post' | 'put' | 'patch';

function call(client: Client, method: Method, path: string, body?: object): Promise<Answer> {
  if (method === 'get') return client.get(path).then((res) => res);
  return client[method](path, body);
}

interface ClinicConfig {
  discountPercent: number;
  dailyDiscountQuota: number;
  paymentSimulationMode: string;
}

describe('API: admin', function () {
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  let admin: { client: Client; user: { id: string; email: string } };
  let patient: { client: Client; user: { id: string } };

  before(async () => {
    // The simulation mode an admin has not switched yet is the environment's.
    testApp = await startApiApp({ env: { PAYMENT_SIMULATION_MODE: 'random' } });
    cleanUp = await trackWrites(testApp.db);
    admin = await loggedInAdmin(testApp.app, testApp.db);
    patient = await signedUpPatient(testApp.app);
  });

  after(async () => {
    await cleanUp?.();
    await testApp?.close();
  });

  const configRow = () =>
    testApp.db.selectFrom('settings.config').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
  const configEventsSince = async (outboxId: number) =>
    (await testApp.db
      .selectFrom('bus.outbox')
      .select(['id', 'stream', 'payload'])
      .where('id', '>', outboxId)
      .where(sql<string>`payload->>'type'`, '=', 'ConfigChanged')
      .orderBy('id')
      .execute()) as {
      id: number;
      stream: string;
      payload: { type: string; correlationId: string; data: Record<string, unknown> };
    }[];
  const lastOutboxId = async () =>
    Number(
      (await sql<{ id: number }>`SELECT coalesce(max(id), 0) AS id FROM bus.outbox`.execute(testApp.db))
        .rows[0]!.id,
    );

  async function book(client = patient.client) {
    const service = await createService(testApp.db);
    const res = await client.post('/api/bookings', { patient: buildPatient(), serviceIds: [service.id] });
    expect(res.status, res.text).to.equal(202);
    return (res.body as { booking: { id: string; reference: string; correlationId: string } }).booking;
  }

  describe('access', function () {
    const unknownId = randomUUID();
    const routes: [Method, string, object?][] = [
      ['get', '/api/admin/config'],
      ['put', '/api/admin/config', { discountPercent: 55 }],
      ['get', '/api/admin/stats'],
      ['get', '/api/admin/services'],
      ['post', '/api/admin/services', { name: `Forbidden ${unknownId}`, pricePaise: 100, gender: 'all' }],
      ['patch', `/api/admin/services/${unknownId}`, { pricePaise: 1 }],
      ['get', '/api/admin/bookings'],
      ['get', `/api/admin/bookings/${unknownId}`],
      ['get', '/api/admin/audit-logs'],
      ['get', '/api/admin/dead-letters'],
      ['post', '/api/admin/dead-letters/1/replay'],
    ];

    for (const [method, path, body] of routes) {
      it(`${method.toUpperCase()} ${path.replace(unknownId, ':id')}: 401 anonymous, 403 patient`, async () => {
        expectError(await call(new Client(testApp.app), method, path, body), 401, 'unauthorized');
        expectError(await call(patient.client, method, path, body), 403, 'forbidden');
      });
    }

    it('changed nothing for them', async () => {
      expect((await configRow()).discount_basis_points).to.not.equal(5500);
      const forbidden = await testApp.db
        .selectFrom('catalogue.services')
        .select('id')
        .where('name', '=', `Forbidden ${unknownId}`)
        .execute();
      expect(forbidden).to.deep.equal([]);
    });
  });

  describe('config', function () {
    it('starts from the defaults, with the simulation mode from the environment', async () => {
      const res = await admin.client.get('/api/admin/config').expect(200);
      expect(res.body).to.include({
        discountPercent: 12,
        dailyDiscountQuota: 100,
        paymentSimulationMode: 'random',
      });
    });

    it('changes on PUT: answers the new config, emits ConfigChanged and audits who changed what', async () => {
      const before = (await admin.client.get('/api/admin/config').expect(200)).body as ClinicConfig;
      const sinceId = await lastOutboxId();

      const res = await admin.client.put('/api/admin/config', {
        discountPercent: 15.25,
        dailyDiscountQuota: 7,
        paymentSimulationMode: 'fail',
      });

      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.include({
        discountPercent: 15.25,
        dailyDiscountQuota: 7,
        paymentSimulationMode: 'fail',
      });
      expect((await admin.client.get('/api/admin/config').expect(200)).body).to.deep.equal(res.body);

      const events = await configEventsSince(sinceId);
      expect(events).to.have.length(1);
      expect(events[0]!.stream).to.equal('config');
      expect(events[0]!.payload.data).to.include({
        discountBasisPoints: 1525,
        dailyDiscountQuota: 7,
        paymentSimulationMode: 'fail',
        actor: admin.user.email,
      });

      const audit = await admin.client
        .get(`/api/admin/audit-logs?type=AdminConfigUpdated&actor=${encodeURIComponent(admin.user.email)}`)
        .expect(200);
      const entries = (
        audit.body as {
          entries: {
            type: string;
            actor: string;
            correlationId: string;
            data: { before: ClinicConfig; after: ClinicConfig };
          }[];
        }
      ).entries;
      expect(entries).to.have.length(1);
      expect(entries[0]).to.include({
        type: 'AdminConfigUpdated',
        actor: admin.user.email,
        correlationId: events[0]!.payload.correlationId,
      });
      expect(entries[0]!.data.before).to.include({
        discountPercent: before.discountPercent,
        dailyDiscountQuota: before.dailyDiscountQuota,
        paymentSimulationMode: before.paymentSimulationMode,
      });
      expect(entries[0]!.data.after).to.include({
        discountPercent: 15.25,
        dailyDiscountQuota: 7,
        paymentSimulationMode: 'fail',
      });
    });

    it('changes only the fields sent', async () => {
      const before = (await admin.client.get('/api/admin/config').expect(200)).body as ClinicConfig;
      const res = await admin.client.put('/api/admin/config', { dailyDiscountQuota: 250 });
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.include({
        discountPercent: before.discountPercent,
        dailyDiscountQuota: 250,
        paymentSimulationMode: before.paymentSimulationMode,
      });
    });

    const badChanges: [string, object | undefined][] = [
      ['discountPercent 100.5', { discountPercent: 100.5 }],
      ['discountPercent 12.345 (three decimals)', { discountPercent: 12.345 }],
      ['discountPercent -1', { discountPercent: -1 }],
      ['discountPercent "12" (a string)', { discountPercent: '12' }],
      ['dailyDiscountQuota 1.5', { dailyDiscountQuota: 1.5 }],
      ['dailyDiscountQuota -1', { dailyDiscountQuota: -1 }],
      ["paymentSimulationMode 'maybe'", { paymentSimulationMode: 'maybe' }],
      ['a good value next to a bad one', { dailyDiscountQuota: 3, discountPercent: 101 }],
      ['an empty body', {}],
      ['no body at all', undefined],
    ];
    for (const [name, body] of badChanges) {
      it(`refuses ${name} with 400 and keeps the settings`, async () => {
        const before = await configRow();
        const sinceId = await lastOutboxId();

        const res = await admin.client.put('/api/admin/config', body);

        expectError(res, 400, 'validation_failed');
        expect(await configRow()).to.deep.equal(before);
        expect(await configEventsSince(sinceId)).to.deep.equal([]);
      });
    }
  });

  describe('services', function () {
    it('creates a service with 201 and refuses a duplicate name with 409', async () => {
      const name = `Bone Density Scan ${randomUUID().slice(0, 8)}`;
      const res = await admin.client.post('/api/admin/services', {
        name,
        description: 'DEXA scan.',
        pricePaise: 180_000,
        gender: 'all',
        active: true,
      });

      expect(res.status, res.text).to.equal(201);
      const { service } = res.body as { service: { id: string } };
      expect(service).to.deep.equal({
        id: service.id,
        name,
        description: 'DEXA scan.',
        pricePaise: 180_000,
        gender: 'all',
        active: true,
      });
      const listed = (await supertest(testApp.app).get('/api/services').expect(200)).body.services as {
        id: string;
      }[];
      expect(listed.map((s) => s.id)).to.include(service.id);

      expectError(
        await admin.client.post('/api/admin/services', { name, pricePaise: 1, gender: 'all' }),
        409,
        'service_name_taken',
      );
      expectError(
        await admin.client.post('/api/admin/services', {
          name: name.toUpperCase(),
          pricePaise: 1,
          gender: 'all',
        }),
        409,
        'service_name_taken',
      );
      const audit = await admin.client
        .get(`/api/admin/audit-logs?type=AdminServiceCreated&actor=${encodeURIComponent(admin.user.email)}`)
        .expect(200);
      expect(
        (audit.body as { entries: { data: { after: { id: string } } }[] }).entries.map(
          (e) => e.data.after.id,
        ),
      ).to.include(service.id);
    });

    const badServices: [string, object][] = [
      ['a price in fractional paise', { pricePaise: 100.5 }],
      ['a negative price', { pricePaise: -100 }],
      ['a price as a string', { pricePaise: '100' }],
      ['an unknown gender', { gender: 'children' }],
      ['a one-letter name', { name: 'X' }],
    ];
    for (const [name, change] of badServices) {
      it(`refuses ${name} with 400 and creates nothing`, async () => {
        const serviceName = `Refused ${randomUUID()}`;
        const res = await admin.client.post('/api/admin/services', {
          name: serviceName,
          pricePaise: 10_000,
          gender: 'all',
          ...change,
        });
        expectError(res, 400, 'validation_failed');
        const created = await testApp.db
          .selectFrom('catalogue.services')
          .select('id')
          .where('name', '=', serviceName)
          .execute();
        expect(created).to.deep.equal([]);
      });
    }

    it('changes a price with PATCH, shown by GET /api/services; an unknown id is 404', async () => {
      const service = await createService(testApp.db, { pricePaise: 50_000 });

      const res = await admin.client.patch(`/api/admin/services/${service.id}`, { pricePaise: 65_050 });

      expect(res.status, res.text).to.equal(200);
      expect(res.body.service).to.include({ id: service.id, name: service.name, pricePaise: 65_050 });
      const listed = (await supertest(testApp.app).get('/api/services').expect(200)).body.services as {
        id: string;
        pricePaise: number;
      }[];
      expect(listed.find((s) => s.id === service.id)?.pricePaise).to.equal(65_050);
      expectError(
        await admin.client.patch(`/api/admin/services/${randomUUID()}`, { pricePaise: 1 }),
        404,
        'not_found',
      );
      expectError(
        await admin.client.patch('/api/admin/services/not-a-uuid', { pricePaise: 1 }),
        404,
        'not_found',
      );
      expectError(
        await admin.client.patch(`/api/admin/services/${service.id}`, { pricePaise: -5 }),
        400,
        'validation_failed',
      );
    });

    it('retires a service with PATCH active:false, which leaves the public catalogue', async () => {
      const service = await createService(testApp.db);
      expect(
        (await admin.client.patch(`/api/admin/services/${service.id}`, { active: false })).status,
      ).to.equal(200);
      const listed = (await supertest(testApp.app).get('/api/services').expect(200)).body.services as {
        id: string;
      }[];
      expect(listed.map((s) => s.id)).not.to.include(service.id);
      const all = (await admin.client.get('/api/admin/services').expect(200)).body.services as {
        id: string;
        active: boolean;
      }[];
      expect(all.find((s) => s.id === service.id)?.active).to.equal(false);
    });
  });

  describe('stats', function () {
    it('counts bookings by each of the four statuses and events by type', async () => {
      const stats = async () =>
        (await admin.client.get('/api/admin/stats').expect(200)).body as {
          bookingsByStatus: Record<string, number>;
          eventsByType: Record<string, number>;
          quota: { date: string; used: number; limit: number };
        };
      const before = await stats();
      expect(before.bookingsByStatus).to.have.all.keys('PENDING', 'CONFIRMED', 'REJECTED', 'FAILED');
      expect(before.eventsByType).to.be.an('object');

      const booking = await book();
      const pending = await stats();
      expect(pending.bookingsByStatus.PENDING).to.equal(before.bookingsByStatus.PENDING! + 1);

      await testApp.db
        .updateTable('booking.bookings')
        .set({ status: 'CONFIRMED' })
        .where('id', '=', booking.id)
        .execute();
      // What the audit-log worker records for a saga event counts; an admin action does not.
      await testApp.db
        .insertInto('audit.entries')
        .values([
          {
            at: new Date(),
            type: 'PricingCalculated',
            actor: 'pricing',
            booking_id: booking.id,
            correlation_id: booking.correlationId,
            event_id: randomUUID(),
            data: '{}',
          },
          {
            at: new Date(),
            type: 'AdminConfigUpdated',
            actor: 'someone',
            booking_id: null,
            correlation_id: null,
            event_id: null,
            data: '{}',
          },
        ])
        .execute();
      const after = await stats();

      expect(after.bookingsByStatus).to.deep.equal({
        ...before.bookingsByStatus,
        CONFIRMED: before.bookingsByStatus.CONFIRMED! + 1,
      });
      expect(after.eventsByType.PricingCalculated).to.equal((before.eventsByType.PricingCalculated ?? 0) + 1);
      expect(after.eventsByType.AdminConfigUpdated ?? 0).to.equal(
        before.eventsByType.AdminConfigUpdated ?? 0,
      );
      expect(after.quota.date).to.equal(istDate(new Date()));
    });

    it("reports the quota of today's IST date, which starts at 18:30 UTC", async () => {
      // 19:00 UTC on 1 March is 00:30 IST on 2 March.
      const lateEvening = await startApiApp({ clock: fixedClock('2024-03-01T19:00:00Z') });
      try {
        await lateEvening.db
          .insertInto('quota.usage')
          .values([
            { day: '2024-03-01', used: 9 },
            { day: '2024-03-02', used: 3 },
          ])
          .execute();
        const { client } = await loggedInAdmin(lateEvening.app, lateEvening.db);
        const limit = (
          await lateEvening.db.selectFrom('quota.settings').select('daily_limit').executeTakeFirstOrThrow()
        ).daily_limit;

        const res = await client.get('/api/admin/stats').expect(200);

        expect(res.body.quota).to.deep.equal({ date: '2024-03-02', used: 3, limit });
      } finally {
        await lateEvening.db
          .deleteFrom('quota.usage')
          .where('day', 'in', ['2024-03-01', '2024-03-02'])
          .execute();
        await lateEvening.close();
      }
    });
  });

  describe('bookings', function () {
    it('filters by status and by reference, booking id or correlation id (q)', async () => {
      const pending = await book();
      const rejected = await book();
      await testApp.db
        .updateTable('booking.bookings')
        .set({ status: 'REJECTED', reason: 'Daily discount quota reached.' })
        .where('id', '=', rejected.id)
        .execute();

      const byStatus = async (status: string) =>
        (await admin.client.get(`/api/admin/bookings?status=${status}`).expect(200)).body.bookings as {
          id: string;
          status: string;
        }[];
      const pendingOnes = await byStatus('PENDING');
      const rejectedOnes = await byStatus('REJECTED');
      expect(pendingOnes.map((b) => b.id))
        .to.include(pending.id)
        .and.not.include(rejected.id);
      expect(pendingOnes.every((b) => b.status === 'PENDING')).to.equal(true);
      expect(rejectedOnes.map((b) => b.id))
        .to.include(rejected.id)
        .and.not.include(pending.id);
      expect(rejectedOnes.every((b) => b.status === 'REJECTED')).to.equal(true);

      for (const q of [
        pending.reference,
        pending.reference.toLowerCase(),
        pending.id,
        pending.correlationId,
      ]) {
        const found = (await admin.client.get(`/api/admin/bookings?q=${encodeURIComponent(q)}`).expect(200))
          .body.bookings as { id: string }[];
        expect(found.map((b) => b.id)).to.deep.equal([pending.id]);
      }
      expectError(await admin.client.get('/api/admin/bookings?status=DONE'), 400, 'validation_failed');
    });

    it('shows one booking with its trace; an unknown id is 404', async () => {
      const booking = await book();
      const res = await admin.client.get(`/api/admin/bookings/${booking.id}`).expect(200);
      expect(res.body.booking).to.include({
        id: booking.id,
        reference: booking.reference,
        correlationId: booking.correlationId,
      });
      expect(res.body.booking.trace).to.be.an('array');
      expectError(await admin.client.get(`/api/admin/bookings/${randomUUID()}`), 404, 'not_found');
      expectError(await admin.client.get('/api/admin/bookings/MC-0000-0000'), 404, 'not_found');
    });
  });

  describe('audit logs', function () {
    it('filters by type, actor and correlation id, in the documented shape', async () => {
      const type = `TestAudit${randomUUID().slice(0, 8)}`;
      const [first, second] = [randomUUID(), randomUUID()];
      await testApp.db
        .insertInto('audit.entries')
        .values([
          {
            at: new Date(Date.now() - 1000),
            type,
            actor: 'asha@clinic.example',
            booking_id: null,
            correlation_id: first,
            event_id: null,
            data: JSON.stringify({ n: 1 }),
          },
          {
            at: new Date(),
            type,
            actor: 'bala@clinic.example',
            booking_id: null,
            correlation_id: second,
            event_id: null,
            data: JSON.stringify({ n: 2 }),
          },
        ])
        .execute();
      const entries = async (query: string) =>
        (await admin.client.get(`/api/admin/audit-logs?${query}`).expect(200)).body.entries as {
          correlationId: string;
          type: string;
          actor: string;
        }[];

      const ofType = await entries(`type=${type}`);
      expect(ofType.map((e) => e.correlationId)).to.deep.equal([second, first]);
      expect(ofType[0]).to.have.all.keys('id', 'at', 'type', 'actor', 'bookingId', 'correlationId', 'data');
      expect(ofType[0]).to.deep.include({
        type,
        actor: 'bala@clinic.example',
        bookingId: null,
        correlationId: second,
        data: { n: 2 },
      });

      expect(
        (await entries(`type=${type}&actor=asha%40clinic.example`)).map((e) => e.correlationId),
      ).to.deep.equal([first]);
      expect((await entries(`correlationId=${second}`)).map((e) => e.actor)).to.deep.equal([
        'bala@clinic.example',
      ]);
      expectError(
        await admin.client.get('/api/admin/audit-logs?correlationId=not-a-uuid'),
        400,
        'validation_failed',
      );
    });
  });

  describe('dead letters', function () {
    async function insertDeadLetter(options: { replayable: boolean }) {
      const event = createEvent(
        'BookingFailed',
        { reason: 'test dead letter' },
        { bookingId: randomUUID(), correlationId: randomUUID(), causationId: null },
      );
      const row = await testApp.db
        .insertInto('bus.dead_letters')
        .values({
          stream: 'booking',
          entry_id: `${Date.now()}-0`,
          consumer_group: `api-test-${randomUUID().slice(0, 8)}`,
          event_id: options.replayable ? event.eventId : null,
          type: options.replayable ? event.type : null,
          payload: JSON.stringify(options.replayable ? event : { junk: true }),
          error: 'handler failed 5 times',
          deliveries: 5,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return { id: row.id, event };
    }

    it('lists dead letters', async () => {
      const { id, event } = await insertDeadLetter({ replayable: true });
      const res = await admin.client.get('/api/admin/dead-letters').expect(200);
      const letter = (
        res.body.deadLetters as {
          id: number;
          eventId: string;
          type: string;
          deliveries: number;
          replayedAt: string | null;
        }[]
      ).find((l) => l.id === id);
      expect(letter).to.include({
        eventId: event.eventId,
        type: 'BookingFailed',
        deliveries: 5,
        replayedAt: null,
      });
    });

    it('replays one with 202 through the outbox, once: a second replay is 409', async () => {
      const { id, event } = await insertDeadLetter({ replayable: true });
      const outboxRows = () =>
        testApp.db
          .selectFrom('bus.outbox')
          .select(['stream', 'payload', 'published_at'])
          .where('event_id', '=', event.eventId)
          .execute();

      const res = await admin.client.post(`/api/admin/dead-letters/${id}/replay`);

      expect(res.status, res.text).to.equal(202);
      const rows = await outboxRows();
      expect(rows).to.have.length(1);
      expect(rows[0]).to.deep.include({ stream: 'booking', payload: event, published_at: null });
      const listed = (await admin.client.get('/api/admin/dead-letters').expect(200)).body.deadLetters as {
        id: number;
        replayedAt: string | null;
      }[];
      expect(listed.find((l) => l.id === id)?.replayedAt).to.be.a('string');

      expectError(await admin.client.post(`/api/admin/dead-letters/${id}/replay`), 409, 'already_replayed');
      expect(await outboxRows()).to.have.length(1);
    });

    it('answers 404 to an unknown id and 409 to a message that is no event', async () => {
      expectError(await admin.client.post('/api/admin/dead-letters/999999999/replay'), 404, 'not_found');
      expectError(await admin.client.post('/api/admin/dead-letters/abc/replay'), 404, 'not_found');
      const { id } = await insertDeadLetter({ replayable: false });
      expectError(await admin.client.post(`/api/admin/dead-letters/${id}/replay`), 409, 'not_replayable');
    });
  });
});
