import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Express } from 'express';
import supertest from 'supertest';
import { createRedis, streamKey } from '../../../lib/bus/redis.js';
import { systemClock } from '../../../lib/clock.js';
import { loadConfig } from '../../../lib/config.js';
import { createDb } from '../../../lib/db/database.js';
import { findUser } from '../../../lib/identity/user-service.js';
import { createApp } from '../../../server/app.js';
import type { TestApp } from '../../support/app.js';
import { expectError, quietly, startApiApp } from '../../support/api-helpers.js';

/** The app with Redis unreachable: startTestApp would wait for Redis, so this one is put together by hand. */
function appWithoutRedis(): { app: Express; close(): Promise<void> } {
  const config = loadConfig({ ...process.env, REDIS_URL: 'redis://127.0.0.1:1' });
  const db = createDb(config.DATABASE_URL, 2);
  const redis = createRedis(config.REDIS_URL, 'web', 'test-no-redis');
  // Reconnect attempts report errors; the app's answers are what this test looks at.
  redis.on('error', () => {});
  const app = createApp({
    config,
    db,
    redis,
    clock: systemClock,
    published: () => {},
    publish: () => {},
    accounts: { find: (id) => findUser(db, id) },
  });
  return {
    app,
    async close() {
      redis.disconnect();
      await db.destroy();
    },
  };
}

async function timed<T>(work: () => PromiseLike<T>): Promise<{ result: T; ms: number }> {
  const started = Date.now();
  const result = await work();
  return { result, ms: Date.now() - started };
}

describe('health, readiness and metrics', function () {
  let testApp: TestApp;

  before(async () => {
    testApp = await startApiApp();
  });

  after(async () => {
    await testApp?.close();
  });

  it('/healthz answers 200', async () => {
    const res = await supertest(testApp.app).get('/healthz').expect(200);
    expect(res.body).to.deep.equal({ status: 'ok' });
  });

  it('/readyz answers 200 with PostgreSQL and Redis up', async () => {
    const res = await supertest(testApp.app).get('/readyz').expect(200);
    expect(res.body).to.deep.equal({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });

  describe('with Redis unreachable', function () {
    let broken: ReturnType<typeof appWithoutRedis>;
    before(() => {
      broken = appWithoutRedis();
    });
    after(async () => {
      await broken?.close();
    });

    it('/readyz answers 503 at once, naming Redis', async () => {
      const { result: res, ms } = await timed(() => supertest(broken.app).get('/readyz'));
      expect(res.status).to.equal(503);
      expect(res.body).to.deep.equal({
        status: 'unavailable',
        checks: { postgres: 'ok', redis: 'unavailable' },
      });
      expect(ms).to.be.below(2_000);
      expect((await supertest(broken.app).get('/healthz')).status).to.equal(200);
    });

    it('a request with a session answers 503 in the error shape, not a hang or a 500', async () => {
      const agent = supertest.agent(broken.app);
      // The token is issued, but its session cannot be stored; the next request needs the store.
      await quietly(() => agent.get('/api/csrf-token'));
      const { result: res, ms } = await timed(() => quietly(() => agent.get('/api/me')));
      expectError(res, 503, 'unavailable');
      expect(ms).to.be.below(2_000);
    });
  });

  describe('with PostgreSQL unreachable', function () {
    let broken: TestApp;
    before(async () => {
      broken = await startApiApp({ env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' } });
    });
    after(async () => {
      await broken?.close();
    });

    it('/readyz answers 503 at once, naming PostgreSQL', async () => {
      const { result: res, ms } = await timed(() => supertest(broken.app).get('/readyz'));
      expect(res.status).to.equal(503);
      expect(res.body).to.deep.equal({
        status: 'unavailable',
        checks: { postgres: 'unavailable', redis: 'ok' },
      });
      expect(ms).to.be.below(2_000);
    });

    it('an API request answers 503 in the error shape', async () => {
      const { result: res, ms } = await timed(() =>
        quietly(() => supertest(broken.app).get('/api/services')),
      );
      expectError(res, 503, 'unavailable');
      expect(ms).to.be.below(2_000);
    });
  });

  describe('/metrics', function () {
    let metricsApp: TestApp;
    let prefix: string;
    const finishedId = randomUUID();

    before(async () => {
      // A key prefix of its own (inside the run's), so the stream and group below are this test's alone.
      prefix = `${process.env.REDIS_PREFIX}metrics-${randomUUID().slice(0, 8)}:`;
      metricsApp = await startApiApp({ env: { REDIS_PREFIX: prefix } });
    });
    after(async () => {
      await metricsApp?.db.deleteFrom('booking.bookings').where('id', '=', finishedId).execute();
      await metricsApp?.close();
    });

    /** Samples of the exposition text: `name{labels}` → value. */
    function samples(text: string): Map<string, number> {
      const map = new Map<string, number>();
      for (const line of text.split('\n')) {
        if (line === '' || line.startsWith('#')) continue;
        const at = line.lastIndexOf(' ');
        map.set(line.slice(0, at), Number(line.slice(at + 1)));
      }
      return map;
    }

    it('answers Prometheus text with bookings by outcome, saga duration, stream lag and dead letters', async () => {
      const key = streamKey(prefix, 'booking');
      await metricsApp.redis.xgroup('CREATE', key, 'metrics-test', '$', 'MKSTREAM');
      await metricsApp.redis.xadd(key, '*', 'type', 'BookingRequested', 'event', '{}');
      await metricsApp.redis.xadd(key, '*', 'type', 'BookingRequested', 'event', '{}');
      const { db } = metricsApp;
      // A saga that took 10 s and ended a minute ago.
      const finishedAt = new Date(Date.now() - 60_000);
      await db
        .insertInto('booking.bookings')
        .values({
          id: finishedId,
          reference: `MC-TEST-${randomUUID().slice(0, 4).toUpperCase()}`,
          user_id: randomUUID(),
          status: 'CONFIRMED',
          reason: null,
          correlation_id: randomUUID(),
          patient_name: 'Metrics Test',
          patient_gender: 'other',
          patient_date_of_birth: '1980-01-01',
          patient_phone: '+91 98450 12345',
          patient_email: 'metrics@example.com',
          idempotency_key: null,
          request_hash: 'metrics-test',
          quota_outcome: 'skipped',
          base_paise: 10_000,
          discount_basis_points: 0,
          discount_paise: 0,
          final_paise: 10_000,
          discount_eligible: false,
          discount_applied: false,
          deadline_at: finishedAt,
          created_at: new Date(finishedAt.getTime() - 10_000),
          finished_at: finishedAt,
        })
        .execute();
      const count = async (status: string) =>
        Number(
          (
            await db
              .selectFrom('booking.bookings')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where('status', '=', status as 'PENDING')
              .executeTakeFirstOrThrow()
          ).n,
        );
      const deadLetters = Number(
        (
          await db
            .selectFrom('bus.dead_letters')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('replayed_at', 'is', null)
            .executeTakeFirstOrThrow()
        ).n,
      );

      const res = await supertest(metricsApp.app)
        .get('/metrics')
        .set('Authorization', `Bearer ${process.env.METRICS_TOKEN}`)
        .expect(200);

      expect(res.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
      for (const name of [
        'clinic_bookings',
        'clinic_stream_lag',
        'clinic_dead_letters',
        'clinic_saga_duration_seconds',
      ]) {
        expect(res.text).to.match(new RegExp(`^# TYPE ${name} gauge$`, 'm'));
      }
      const values = samples(res.text);
      for (const status of ['PENDING', 'CONFIRMED', 'REJECTED', 'FAILED']) {
        expect(values.get(`clinic_bookings{status="${status}"}`), status).to.equal(await count(status));
      }
      expect(values.get('clinic_dead_letters')).to.equal(deadLetters);
      expect(values.get('clinic_stream_lag{stream="booking",group="metrics-test"}')).to.equal(2);
      const durations = [...values].filter(([name]) => name.startsWith('clinic_saga_duration_seconds{'));
      expect(durations.map(([name]) => name))
        .to.have.length(3)
        .and.satisfy((names: string[]) => names.every((n) => /\{quantile="0\.\d+"\}$/.test(n)));
      for (const [, seconds] of durations) expect(seconds).to.be.above(0);
    });
  });
});
