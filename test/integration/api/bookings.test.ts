import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import supertest from 'supertest';
import type { TestApp } from '../../support/app.js';
import { expectError, rowCounts, startApiApp, trackWrites } from '../../support/api-helpers.js';
import { buildPatient, createService, loggedInAdmin, signedUpPatient } from '../../support/factories.js';
import { Client } from '../../support/http.js';
import { waitFor } from '../../support/wait.js';
import { streamKey } from '../../../lib/bus/redis.js';
import type { Event } from '../../../lib/events/catalogue.js';

const REFERENCE = /^MC-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Accepted {
  id: string;
  reference: string;
  status: string;
  correlationId: string;
}

describe('API: bookings and services', function () {
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  let patient: { client: Client; user: { id: string } };
  let service: { id: string; name: string; pricePaise: number };

  before(async () => {
    testApp = await startApiApp();
    cleanUp = await trackWrites(testApp.db);
    patient = await signedUpPatient(testApp.app);
    service = await createService(testApp.db, { pricePaise: 45_000 });
  });

  after(async () => {
    await cleanUp?.();
    await testApp?.close();
  });

  const book = (client: Client, body: object, headers?: Record<string, string>) =>
    client.post('/api/bookings', body, headers);

  async function outboxOf(bookingId: string) {
    return testApp.db
      .selectFrom('bus.outbox')
      .select(['stream', 'payload', 'published_at'])
      .where(sql<string>`payload->>'bookingId'`, '=', bookingId)
      .execute() as Promise<
      {
        stream: string;
        payload: { type: string; correlationId: string; bookingId: string; data: Record<string, unknown> };
        published_at: Date | null;
      }[]
    >;
  }

  describe('POST /api/bookings', function () {
    it('accepts a patient booking with 202: one booking row and one BookingRequested in the outbox, same correlation id', async () => {
      const details = buildPatient({ name: 'Lakshmi Menon', gender: 'female', dateOfBirth: '1990-02-28' });

      const res = await book(patient.client, { patient: details, serviceIds: [service.id] });

      expect(res.status, res.text).to.equal(202);
      const booking = (res.body as { booking: Accepted }).booking;
      expect(booking).to.have.all.keys('id', 'reference', 'status', 'correlationId');
      expect(booking.id).to.match(UUID);
      expect(booking.reference).to.match(REFERENCE);
      expect(booking.status).to.equal('PENDING');
      expect(booking.correlationId).to.match(UUID);
      expect(res.headers.location).to.equal(`/api/bookings/${booking.id}/status`);

      const rows = await testApp.db
        .selectFrom('booking.bookings')
        .selectAll()
        .where('id', '=', booking.id)
        .execute();
      expect(rows).to.have.length(1);
      expect(rows[0]).to.include({
        user_id: patient.user.id,
        reference: booking.reference,
        status: 'PENDING',
        correlation_id: booking.correlationId,
        patient_name: 'Lakshmi Menon',
        patient_gender: 'female',
        patient_date_of_birth: '1990-02-28',
      });
      const outbox = await outboxOf(booking.id);
      expect(outbox).to.have.length(1);
      expect(outbox[0]!.stream).to.equal('booking');
      expect(outbox[0]!.payload).to.include({
        type: 'BookingRequested',
        bookingId: booking.id,
        correlationId: booking.correlationId,
      });
      expect(outbox[0]!.payload.data).to.deep.include({
        reference: booking.reference,
        userId: patient.user.id,
        serviceIds: [service.id],
      });
    });

    it('publishes its BookingRequested itself right after the commit (no relay runs here), then marks it', async () => {
      const res = await book(patient.client, { patient: buildPatient(), serviceIds: [service.id] });
      expect(res.status, res.text).to.equal(202);
      const booking = (res.body as { booking: Accepted }).booking;
      const [row] = await outboxOf(booking.id);
      const stream = streamKey(testApp.config.REDIS_PREFIX, 'booking');
      const entries = await waitFor(async () => {
        const all = await testApp.redis.xrange(stream, '-', '+');
        const ours = all.filter(([, fields]) => (JSON.parse(fields[3]!) as Event).bookingId === booking.id);
        return ours.length > 0 && ours;
      });
      expect(entries.map(([, fields]) => (JSON.parse(fields[3]!) as Event).type)).to.deep.equal([
        'BookingRequested',
      ]);
      expect(row!.payload).to.deep.include({ type: 'BookingRequested' });
      await waitFor(async () => (await outboxOf(booking.id))[0]!.published_at !== null, {
        message: 'the row marked published',
      });
    });

    it('answers 401 to an anonymous visitor and writes nothing', async () => {
      const before = await rowCounts(testApp.db);
      const res = await book(new Client(testApp.app), { patient: buildPatient(), serviceIds: [service.id] });
      expectError(res, 401, 'unauthorized');
      expect(await rowCounts(testApp.db)).to.deep.equal(before);
    });

    it('answers 403 admin_cannot_book to an admin and writes nothing', async () => {
      const admin = await loggedInAdmin(testApp.app, testApp.db);
      const before = await rowCounts(testApp.db);
      const res = await book(admin.client, { patient: buildPatient(), serviceIds: [service.id] });
      expectError(res, 403, 'admin_cannot_book');
      expect(await rowCounts(testApp.db)).to.deep.equal(before);
    });

    it('accepts a female-only service for a female patient', async () => {
      const mammography = await createService(testApp.db, { gender: 'female' });
      const res = await book(patient.client, {
        patient: buildPatient({ gender: 'female' }),
        serviceIds: [mammography.id],
      });
      expect(res.status, res.text).to.equal(202);
    });
  });

  describe('Idempotency-Key', function () {
    const withKey = async (key: string) =>
      testApp.db
        .selectFrom('booking.bookings')
        .select('id')
        .where('user_id', '=', patient.user.id)
        .where('idempotency_key', '=', key)
        .execute();

    it('answers the same booking to a repeated request, with one row and one event', async () => {
      const key = randomUUID();
      const body = { patient: buildPatient(), serviceIds: [service.id] };

      const first = await book(patient.client, body, { 'Idempotency-Key': key });
      const second = await book(patient.client, body, { 'Idempotency-Key': key });

      expect(first.status, first.text).to.equal(202);
      expect(second.status, second.text).to.equal(202);
      expect(second.body).to.deep.equal(first.body);
      expect(await withKey(key)).to.have.length(1);
      expect(await outboxOf((first.body as { booking: Accepted }).booking.id)).to.have.length(1);
    });

    it('answers one booking to five concurrent requests with one key', async () => {
      const key = randomUUID();
      const body = { patient: buildPatient(), serviceIds: [service.id] };
      const before = await rowCounts(testApp.db);

      const answers = await Promise.all(
        Array.from({ length: 5 }, () => book(patient.client, body, { 'Idempotency-Key': key })),
      );

      for (const res of answers) expect(res.status, res.text).to.equal(202);
      const ids = new Set(answers.map((res) => (res.body as { booking: Accepted }).booking.id));
      expect(ids.size).to.equal(1);
      expect(await withKey(key)).to.have.length(1);
      expect(await rowCounts(testApp.db)).to.deep.equal({
        bookings: before.bookings + 1,
        outbox: before.outbox + 1,
      });
    });

    it('refuses a key reused with a different body with 409 and writes nothing', async () => {
      const key = randomUUID();
      const body = { patient: buildPatient(), serviceIds: [service.id] };
      expect((await book(patient.client, body, { 'Idempotency-Key': key })).status).to.equal(202);
      const before = await rowCounts(testApp.db);

      const res = await book(
        patient.client,
        { ...body, patient: { ...body.patient, name: 'Somebody Else' } },
        { 'Idempotency-Key': key },
      );

      expectError(res, 409, 'idempotency_key_reused');
      expect(await rowCounts(testApp.db)).to.deep.equal(before);
    });

    it('keeps keys apart between patients', async () => {
      const key = randomUUID();
      const body = { patient: buildPatient(), serviceIds: [service.id] };
      const other = await signedUpPatient(testApp.app);

      const mine = await book(patient.client, body, { 'Idempotency-Key': key });
      const theirs = await book(other.client, body, { 'Idempotency-Key': key });

      expect(mine.status).to.equal(202);
      expect(theirs.status).to.equal(202);
      expect((theirs.body as { booking: Accepted }).booking.id).to.not.equal(
        (mine.body as { booking: Accepted }).booking.id,
      );
    });
  });

  describe('bad input: 4xx with the error shape and nothing written', function () {
    let inactive: { id: string };
    let femaleOnly: { id: string };
    let maleOnly: { id: string };
    let many: { id: string }[];
    const nextYear = `${new Date().getUTCFullYear() + 1}-01-15`;

    before(async () => {
      inactive = await createService(testApp.db, { active: false });
      femaleOnly = await createService(testApp.db, { gender: 'female' });
      maleOnly = await createService(testApp.db, { gender: 'male' });
      many = await Promise.all(Array.from({ length: 21 }, () => createService(testApp.db)));
    });

    const valid = () => ({ patient: buildPatient(), serviceIds: [service.id] });
    const withPatient = (change: Partial<ReturnType<typeof buildPatient>>) => ({
      ...valid(),
      patient: buildPatient(change),
    });
    const cases: {
      name: string;
      body: () => object | string;
      type?: string;
      status: number;
      code: string;
      field?: string;
    }[] = [
      {
        name: 'a body that is not JSON',
        body: () => '{"patient": {',
        type: 'application/json',
        status: 400,
        code: 'malformed_json',
      },
      {
        name: 'a plain-text body',
        body: () => 'book me in',
        type: 'text/plain',
        status: 400,
        code: 'validation_failed',
      },
      {
        name: 'no patient',
        body: () => ({ serviceIds: [service.id] }),
        status: 400,
        code: 'validation_failed',
        field: 'patient',
      },
      {
        name: 'no services',
        body: () => ({ ...valid(), serviceIds: [] }),
        status: 400,
        code: 'validation_failed',
        field: 'serviceIds',
      },
      {
        name: 'a service id that is not a uuid',
        body: () => ({ ...valid(), serviceIds: ['abc'] }),
        status: 400,
        code: 'validation_failed',
        field: 'serviceIds.0',
      },
      {
        name: 'an unknown service',
        body: () => ({ ...valid(), serviceIds: [service.id, randomUUID()] }),
        status: 422,
        code: 'validation_failed',
      },
      {
        name: 'an inactive service',
        body: () => ({ ...valid(), serviceIds: [inactive.id] }),
        status: 422,
        code: 'validation_failed',
      },
      {
        name: 'a female-only service for a male patient',
        body: () => ({ ...withPatient({ gender: 'male' }), serviceIds: [femaleOnly.id] }),
        status: 422,
        code: 'validation_failed',
      },
      {
        name: "a male-only service for 'other'",
        body: () => ({ ...withPatient({ gender: 'other' }), serviceIds: [maleOnly.id] }),
        status: 422,
        code: 'validation_failed',
      },
      {
        name: 'an unknown gender',
        body: () => withPatient({ gender: 'robot' as 'male' }),
        status: 400,
        code: 'validation_failed',
        field: 'patient.gender',
      },
      {
        name: 'an impossible date of birth (2023-02-29)',
        body: () => withPatient({ dateOfBirth: '2023-02-29' }),
        status: 400,
        code: 'validation_failed',
        field: 'patient.dateOfBirth',
      },
      {
        name: 'a date of birth in the future',
        body: () => withPatient({ dateOfBirth: nextYear }),
        status: 400,
        code: 'validation_failed',
        field: 'patient.dateOfBirth',
      },
      {
        name: 'a bad phone number',
        body: () => withPatient({ phone: '12-ab' }),
        status: 400,
        code: 'validation_failed',
        field: 'patient.phone',
      },
      {
        name: 'a bad email',
        body: () => withPatient({ email: 'meera.example.com' }),
        status: 400,
        code: 'validation_failed',
        field: 'patient.email',
      },
      {
        name: 'a name of only spaces',
        body: () => withPatient({ name: '   ' }),
        status: 400,
        code: 'validation_failed',
        field: 'patient.name',
      },
      {
        name: '21 services',
        body: () => ({ ...valid(), serviceIds: many.map((s) => s.id) }),
        status: 400,
        code: 'validation_failed',
        field: 'serviceIds',
      },
    ];

    for (const example of cases) {
      it(`refuses ${example.name} with ${example.status}`, async () => {
        const before = await rowCounts(testApp.db);
        const body = example.body();
        const token = await patient.client.csrf();
        let request = patient.client.agent.post('/api/bookings').set('x-csrf-token', token);
        if (example.type) request = request.set('Content-Type', example.type);

        const res = await request.send(body);

        const error = expectError(res, example.status, example.code);
        if (example.field) {
          expect(error.details, res.text).to.be.an('array');
          expect(
            (error.details as { path: string }[]).map((d) => d.path),
            res.text,
          ).to.include(example.field);
        }
        if (example.status === 422) {
          // The last chosen service is the one that cannot be booked; the others are not blamed.
          const chosen = (body as { serviceIds: string[] }).serviceIds;
          expect(
            (error.details as { serviceId: string }[]).map((d) => d.serviceId),
            res.text,
          ).to.deep.equal([chosen[chosen.length - 1]]);
        }
        expect(await rowCounts(testApp.db)).to.deep.equal(before);
      });
    }
  });

  describe('reading bookings', function () {
    it('lists only my own bookings, newest first', async () => {
      const me = await signedUpPatient(testApp.app);
      const other = await signedUpPatient(testApp.app);
      const ids: string[] = [];
      for (const name of ['First Visit', 'Second Visit', 'Third Visit']) {
        const res = await book(me.client, { patient: buildPatient({ name }), serviceIds: [service.id] });
        ids.push((res.body as { booking: Accepted }).booking.id);
      }
      await book(other.client, { patient: buildPatient(), serviceIds: [service.id] });

      const res = await me.client.get('/api/bookings').expect(200);

      const bookings = (res.body as { bookings: { id: string; patient: { name: string } }[] }).bookings;
      expect(bookings.map((b) => b.id)).to.deep.equal([...ids].reverse());
      expect(bookings.map((b) => b.patient.name)).to.deep.equal([
        'Third Visit',
        'Second Visit',
        'First Visit',
      ]);
      expectError(await supertest(testApp.app).get('/api/bookings'), 401, 'unauthorized');
    });

    it("shows the owner a booking's status in the documented shape, priced later", async () => {
      const details = buildPatient({ name: 'Arjun Nair', gender: 'other', dateOfBirth: '1975-12-01' });
      const started = Date.now();
      const accepted = (await book(patient.client, { patient: details, serviceIds: [service.id] })).body as {
        booking: Accepted;
      };
      const { id } = accepted.booking;

      for (const path of [`/api/bookings/${id}/status`, `/api/bookings/${id}`]) {
        const res = await patient.client.get(path).expect(200);
        expect(res.headers['content-type']).to.match(/^application\/json/);
        const { booking } = res.body as {
          booking: Record<string, unknown> & {
            events: { type: string; occurredAt: string }[];
            createdAt: string;
          };
        };
        expect(booking).to.have.all.keys(
          'id',
          'reference',
          'status',
          'reason',
          'correlationId',
          'createdAt',
          'patient',
          'services',
          'pricing',
          'appointment',
          // Beyond the spec's list: a change under way ('cancelling', 'rescheduling') and where to.
          'change',
          'rescheduleTo',
          'events',
        );
        expect(booking).to.deep.include({
          id,
          reference: accepted.booking.reference,
          status: 'PENDING',
          reason: null,
          correlationId: accepted.booking.correlationId,
          patient: { name: 'Arjun Nair', gender: 'other', dateOfBirth: '1975-12-01' },
          services: [{ id: service.id, name: service.name, pricePaise: null }],
          pricing: null,
          appointment: null,
          change: null,
          rescheduleTo: null,
        });
        expect(booking.events.map((event) => event.type)).to.deep.equal(['BookingRequested']);
        for (const at of [booking.createdAt, booking.events[0]!.occurredAt]) {
          expect(new Date(at).toISOString()).to.equal(at);
          expect(Date.parse(at)).to.be.within(started - 1000, Date.now() + 1000);
        }
      }
    });

    it("answers 404 for another patient's booking and for an id that is not a uuid; an admin reads any", async () => {
      const accepted = (await book(patient.client, { patient: buildPatient(), serviceIds: [service.id] }))
        .body as { booking: Accepted };
      const { id } = accepted.booking;
      const stranger = await signedUpPatient(testApp.app);

      const theirs = expectError(await stranger.client.get(`/api/bookings/${id}/status`), 404, 'not_found');
      const missing = expectError(
        await stranger.client.get(`/api/bookings/${randomUUID()}/status`),
        404,
        'not_found',
      );
      expect(theirs, 'another patient cannot tell a booking exists').to.deep.equal(missing);
      expectError(await stranger.client.get(`/api/bookings/${id}`), 404, 'not_found');
      expectError(await patient.client.get('/api/bookings/not-a-uuid/status'), 404, 'not_found');
      expectError(await supertest(testApp.app).get(`/api/bookings/${id}/status`), 401, 'unauthorized');

      const admin = await loggedInAdmin(testApp.app, testApp.db);
      const res = await admin.client.get(`/api/bookings/${id}/status`).expect(200);
      expect(res.body.booking).to.include({ id, reference: accepted.booking.reference });
      expect(res.body.booking).not.to.have.property('userId');
    });
  });

  describe('GET /api/services', function () {
    it('lists the active services only, in the documented shape', async () => {
      const active = await createService(testApp.db, {
        name: `Pap Smear ${randomUUID()}`,
        pricePaise: 80_000,
        gender: 'female',
        description: 'Screening.',
      });
      const retired = await createService(testApp.db, { active: false });

      const res = await supertest(testApp.app).get('/api/services').expect(200);

      const services = (res.body as { services: Record<string, unknown>[] }).services;
      for (const s of services) {
        expect(s).to.have.all.keys('id', 'name', 'description', 'pricePaise', 'gender', 'active');
        expect(s.active).to.equal(true);
      }
      expect(services.find((s) => s.id === active.id)).to.deep.equal({
        id: active.id,
        name: active.name,
        description: 'Screening.',
        pricePaise: 80_000,
        gender: 'female',
        active: true,
      });
      expect(services.map((s) => s.id)).not.to.include(retired.id);
    });
  });

  describe('user-supplied text', function () {
    const script = '<script>alert("pwned")</script>';

    it('comes back as JSON data, as it was typed', async () => {
      const res = await book(patient.client, {
        patient: buildPatient({ name: `Ravi ${script}` }),
        serviceIds: [service.id],
      });
      const { id } = (res.body as { booking: Accepted }).booking;

      const status = await patient.client.get(`/api/bookings/${id}/status`).expect(200);

      expect(status.headers['content-type']).to.match(/^application\/json/);
      expect(status.body.booking.patient.name).to.equal(`Ravi ${script}`);
    });

    it('is escaped on the home page', async () => {
      const tagged = await createService(testApp.db, {
        name: `X-Ray ${script} ${randomUUID().slice(0, 8)}`,
        description: '<img src=x onerror=alert(1)>',
      });

      const res = await supertest(testApp.app).get('/').set('Accept', 'text/html').expect(200);

      expect(res.headers['content-type']).to.match(/^text\/html/);
      expect(res.text).to.include(
        `X-Ray &lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; ${tagged.name.slice(-8)}`,
      );
      expect(res.text).to.include('&lt;img src=x onerror=alert(1)&gt;');
      expect(res.text).not.to.include(script);
      expect(res.text).not.to.include('<img src=x');
    });
  });
});
