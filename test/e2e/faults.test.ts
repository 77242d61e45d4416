import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import { Redis } from 'ioredis';
import { failOverdueBookings } from '../../lib/booking/booking-handlers.js';
import { entryFields, streamKey } from '../../lib/bus/redis.js';
import { createEvent } from '../../lib/events/catalogue.js';
import { buildPatient, createService } from '../support/factories.js';
import type { Client } from '../support/http.js';
import { isolatedEnvironment, type IsolatedEnvironment } from '../support/isolated-env.js';
import {
  adminClient,
  book,
  bookingStatus,
  eventTypes,
  ordinaryPatient,
  patientClient,
  settled,
} from '../support/saga-helpers.js';
import { SagaSystem, workerNames } from '../support/system.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';

// The Procfile's processes against a database and Redis prefix of their own, PostgreSQL behind a
// proxy that can cut it off: faults injected here reach no other suite.
describe('faults: the Procfile processes when parts fail', function () {
  this.timeout(60_000);
  let env: IsolatedEnvironment;
  let proxy: TcpProxy;
  let system: SagaSystem;
  let redis: Redis;
  let admin: Client;
  let patient: Client;

  before(async function () {
    this.timeout(120_000);
    env = await isolatedEnvironment();
    const target = new URL(env.databaseUrl);
    proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    system = await SagaSystem.start({
      // Eight processes starting at once on a busy machine take their time.
      readyTimeoutMs: 90_000,
      env: {
        DATABASE_URL: proxy.url(env.databaseUrl),
        REDIS_PREFIX: env.redisPrefix,
        PAYMENT_DELAY_MS: '50',
        SAGA_REDRIVE_AFTER_MS: '1500',
        SAGA_SWEEP_INTERVAL_MS: '200',
      },
    });
    redis = new Redis(process.env.REDIS_URL as string);
    admin = await adminClient(system.url!, env.db);
    patient = await patientClient(system.url!, env.db);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') system?.dump();
    await proxy?.resume();
    for (const name of workerNames()) if (system && !system.isRunning(name)) await system.launch(name);
  });

  after(async function () {
    this.timeout(60_000);
    redis?.disconnect();
    try {
      await system?.stop();
    } finally {
      await proxy?.close();
      await env?.drop();
    }
  });

  const deadLetters = () => env.db.selectFrom('bus.dead_letters').selectAll().execute();
  const stream = (name: string) => streamKey(env.redisPrefix, name);

  it('loses nothing and crashes nothing when PostgreSQL is unreachable for 10 s; the web answers 503 with Retry-After meanwhile', async () => {
    const service = await createService(env.db, { pricePaise: 150_000 });
    const bookings = await Promise.all(
      Array.from({ length: 12 }, () => book(patient, [service.id], ordinaryPatient())),
    );
    await proxy.pause();
    const cutAt = Date.now();
    const during = await patient.get(`/api/bookings/${bookings[0]!.id}/status`);
    expect(during.status, JSON.stringify(during.body)).to.equal(503);
    expect(during.headers['retry-after']).to.match(/^\d+$/);
    expect(during.body.error.code).to.equal('unavailable');
    const refused = await patient.post('/api/bookings', {
      patient: ordinaryPatient(),
      serviceIds: [service.id],
    });
    expect(refused.status).to.equal(503);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 10_000 - (Date.now() - cutAt))));
    await proxy.resume();

    // Requests after the database is back succeed, and every booking finishes.
    for (const { id } of bookings)
      expect((await settled(patient, id, { timeoutMs: 30_000 })).status).to.equal('CONFIRMED');
    for (const name of workerNames()) expect(system.isRunning(name), `${name} still running`).to.equal(true);
    expect(system.isRunning('web')).to.equal(true);
    expect(await deadLetters()).to.deep.equal([]);
    const charges = await env.db
      .selectFrom('gateway.charges')
      .select('idempotency_key')
      .where(
        'idempotency_key',
        'in',
        bookings.map((b) => b.id),
      )
      .execute();
    expect(charges).to.have.length(bookings.length);
  });

  it('a PUT of only discountPercent leaves the payment worker on its own mode', async () => {
    await system.ensureEnv('payment', { PAYMENT_SIMULATION_MODE: 'fail' });
    try {
      const res = await admin.put('/api/admin/config', { discountPercent: 11 });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      await waitFor(async () => {
        const pricing = await env.db.selectFrom('pricing.settings').selectAll().executeTakeFirstOrThrow();
        const payment = await env.db.selectFrom('payment.settings').selectAll().executeTakeFirstOrThrow();
        return pricing.discount_basis_points === 1100 && payment.version === pricing.version;
      });
      const service = await createService(env.db, { pricePaise: 40_000 });
      const { id } = await book(patient, [service.id]);
      const booking = await settled(patient, id);
      // The web runs with the default `success`; the payment worker's `fail` is what applies.
      expect(booking.status).to.equal('FAILED');
      expect(booking.reason).to.match(/declined/);
    } finally {
      await system.ensureEnv('payment', { PAYMENT_SIMULATION_MODE: 'success' });
    }
  });

  it('a CompensationTriggered lost from its stream still ends in the refund and the release (re-drive)', async () => {
    const service = await createService(env.db, { pricePaise: 150_000 });
    // The booking worker is down while the booking is paid: it hears the payment only later.
    await system.kill('booking', 'SIGTERM');
    const { id } = await book(patient, [service.id]);
    await waitFor(
      async () => {
        const row = await env.db
          .selectFrom('payment.payments')
          .select('status')
          .where('booking_id', '=', id)
          .executeTakeFirst();
        return row?.status === 'COMPLETED';
      },
      { timeoutMs: 15_000, message: 'the payment' },
    );
    // Quota and payment stop; the booking's deadline passes and the sweep (the booking worker's own
    // code, run here while that worker is down) triggers the compensation, which Redis then loses.
    await system.kill('discount-quota', 'SIGTERM');
    await system.kill('payment', 'SIGTERM');
    const overdue = new Date(Date.now() - 1000);
    await env.db.updateTable('booking.bookings').set({ deadline_at: overdue }).where('id', '=', id).execute();
    expect(await failOverdueBookings(env.db, new Date(), { afterMs: 1500, limit: 5 })).to.equal(1);
    const trigger = await env.db
      .selectFrom('booking.timeline')
      .select('event_id')
      .where('booking_id', '=', id)
      .where('type', '=', 'CompensationTriggered')
      .executeTakeFirstOrThrow();
    // The web's relay publishes it; then it is gone from the stream before quota or payment read it.
    const lost = await waitFor(async () => {
      const entries = (await redis.xrange(stream('booking'), '-', '+')) as [string, string[]][];
      return entries.find(([, fields]) => fields.join(' ').includes(trigger.event_id));
    });
    expect(await redis.xdel(stream('booking'), lost[0])).to.equal(1);
    await system.launch('booking');
    await system.launch('discount-quota');
    await system.launch('payment');

    const booking = await waitFor(
      async () => {
        const seen = await bookingStatus(patient, id);
        const types = eventTypes(seen);
        return types.includes('PaymentRefunded') && types.includes('DiscountQuotaReleased') && seen;
      },
      { timeoutMs: 20_000, message: 'the refund and the release after the re-drive' },
    );
    expect(booking.status).to.equal('FAILED');
    expect(eventTypes(booking).filter((type) => type === 'PaymentRefunded')).to.have.length(1);
    expect(eventTypes(booking).filter((type) => type === 'DiscountQuotaReleased')).to.have.length(1);
    const charge = await env.db
      .selectFrom('gateway.charges')
      .selectAll()
      .where('idempotency_key', '=', id)
      .executeTakeFirstOrThrow();
    expect(charge.status).to.equal('refunded');
    const reservation = await env.db
      .selectFrom('quota.reservations')
      .selectAll()
      .where('booking_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(reservation.status).to.equal('released');
    const redriven = system.logged('booking', 'saga re-driven', {
      bookingId: id,
      type: 'CompensationTriggered',
    });
    expect(redriven.length).to.be.greaterThan(0);
  });

  it('a BookingConfirmed lost from its stream still ends in its email: the confirmation asks for it again', async () => {
    const service = await createService(env.db, { pricePaise: 40_000 });
    await system.kill('confirmation', 'SIGTERM');
    const { id } = await book(patient, [service.id]);
    expect((await settled(patient, id)).status).to.equal('CONFIRMED');
    const step = await env.db
      .selectFrom('booking.timeline')
      .select('event_id')
      .where('booking_id', '=', id)
      .where('type', '=', 'BookingConfirmed')
      .executeTakeFirstOrThrow();
    // Published, then gone from the stream before the confirmation read it.
    const lost = await waitFor(async () => {
      const entries = (await redis.xrange(stream('booking'), '-', '+')) as [string, string[]][];
      return entries.find(([, fields]) => fields.join(' ').includes(step.event_id));
    });
    expect(await redis.xdel(stream('booking'), lost[0])).to.equal(1);
    await system.launch('confirmation');

    const confirmation = await waitFor(
      () =>
        env.db
          .selectFrom('confirmation.confirmations')
          .select(['status', 'attempts'])
          .where('booking_id', '=', id)
          .where('status', '=', 'sent')
          .executeTakeFirst(),
      { timeoutMs: 20_000, message: 'the confirmation sent after all' },
    );
    expect(confirmation.attempts).to.equal(1);
    const asked = system.logged(
      'confirmation',
      'confirmations asked for again: their BookingConfirmed was never heard of',
    );
    expect(asked.length).to.be.greaterThan(0);
  });

  it('a new pricing group, after the config stream was trimmed away, prices with the current percent', async () => {
    await system.kill('pricing', 'SIGTERM');
    const res = await admin.put('/api/admin/config', { discountPercent: 9.5 });
    expect(res.status).to.equal(200);
    await waitFor(
      async () =>
        (await redis.xlen(stream('config'))) > 0 &&
        (await env.db.selectFrom('bus.outbox').select('id').where('published_at', 'is', null).execute())
          .length === 0,
    );
    // The stream is gone, the group with it, and pricing's own copy is stale.
    await redis.del(stream('config'));
    await env.db.updateTable('pricing.settings').set({ discount_basis_points: 1200, version: 0 }).execute();
    await system.launch('pricing');

    const service = await createService(env.db, { pricePaise: 200_000 });
    const { id } = await book(patient, [service.id]);
    const booking = await settled(patient, id);
    expect(booking.pricing).to.include({ discountPercent: 9.5, discountPaise: 19_000 });
  });
});

describe('faults: SIGTERM during start-up recovery', function () {
  this.timeout(90_000);
  let env: IsolatedEnvironment;
  let system: SagaSystem;
  let redis: Redis;
  const PENDING = 2_000;

  before(async function () {
    this.timeout(120_000);
    env = await isolatedEnvironment();
    redis = new Redis(process.env.REDIS_URL as string);
    system = await SagaSystem.start({
      readyTimeoutMs: 90_000,
      processes: ['pricing'],
      env: { DATABASE_URL: env.databaseUrl, REDIS_PREFIX: env.redisPrefix },
    });
  });
  after(async function () {
    this.timeout(60_000);
    redis?.disconnect();
    try {
      await system?.stop();
    } finally {
      await env?.drop();
    }
  });

  it('exits 0 with nothing half done, and the next start finishes the rest', async () => {
    const service = await createService(env.db);
    const key = streamKey(env.redisPrefix, 'scheduling');
    // Entries read by this instance before it stopped, never acknowledged: its start-up recovers them.
    expect(await system.kill('pricing', 'SIGTERM')).to.include({ code: 0 });
    const pipeline = redis.pipeline();
    for (let i = 0; i < PENDING; i++) {
      const { gender, dateOfBirth } = buildPatient();
      const event = createEvent(
        'SlotSkipped',
        { request: { serviceIds: [service.id], patient: { gender, dateOfBirth } } },
        { bookingId: randomUUID(), correlationId: randomUUID(), causationId: null },
      );
      pipeline.xadd(key, '*', ...entryFields(event));
    }
    await pipeline.exec();
    const consumer = system.consumerName('pricing');
    await redis.call('XREADGROUP', 'GROUP', 'pricing', consumer, 'COUNT', PENDING, 'STREAMS', key, '>');

    const handled = () =>
      env.db
        .selectFrom('bus.inbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('consumer_group', '=', 'pricing')
        .executeTakeFirstOrThrow()
        .then((row) => Number(row.n));
    const priced = () =>
      env.db
        .selectFrom('bus.outbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('producer', '=', 'pricing')
        .executeTakeFirstOrThrow()
        .then((row) => Number(row.n));

    const starting = system.launch('pricing').then(
      () => 'ready',
      (error: Error) => error.message,
    );
    await waitFor(async () => (await handled()) >= 50, { timeoutMs: 30_000, message: 'recovery under way' });
    const exit = await system.kill('pricing', 'SIGTERM');
    expect(exit).to.deep.equal({ code: 0, signal: null });
    expect(await starting).to.match(/exited \(code 0/);

    // Every event recorded as handled has its effect, and every one not handled is still pending.
    const done = await handled();
    expect(done).to.be.lessThan(PENDING);
    expect(await priced()).to.equal(done);
    const [pending] = (await redis.xpending(key, 'pricing')) as [number];
    expect(pending).to.equal(PENDING - done);
    const { rows } = await sql<{ open: number }>`
      SELECT count(*)::int AS open FROM pg_stat_activity
      WHERE datname = current_database() AND state LIKE 'idle in transaction%'`.execute(env.db);
    expect(rows[0]?.open).to.equal(0);

    await system.launch('pricing');
    await waitFor(async () => (await priced()) === PENDING, {
      timeoutMs: 60_000,
      message: 'the rest handled',
    });
    expect(await handled()).to.equal(PENDING);
  });
});
