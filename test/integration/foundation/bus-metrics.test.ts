import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import supertest from 'supertest';
import { busMetricsRecorder } from '../../../lib/bus/bus-metrics.js';
import { StreamConsumer } from '../../../lib/bus/consumer.js';
import { appendToOutbox } from '../../../lib/bus/outbox.js';
import { createRedis } from '../../../lib/bus/redis.js';
import { OutboxRelay } from '../../../lib/bus/relay.js';
import { createEvent } from '../../../lib/events/catalogue.js';
import { startTestApp, type TestApp } from '../../support/app.js';
import { isolatedEnvironment, type IsolatedEnvironment } from '../../support/isolated-env.js';
import { waitFor } from '../../support/wait.js';

describe('bus counters on /metrics', function () {
  this.timeout(20_000);
  // Streams of their own: no participant of other suites ever sees these events.
  const prefix = `${process.env.REDIS_PREFIX}metrics-${randomUUID().slice(0, 6)}:`;
  let testApp: TestApp;
  let redis: Redis;
  let blockingRedis: Redis;

  let isolated: IsolatedEnvironment;

  before(async () => {
    // A database of its own too: rows other suites left unpublished must not be counted here.
    isolated = await isolatedEnvironment();
    testApp = await startTestApp({ env: { REDIS_PREFIX: prefix, DATABASE_URL: isolated.databaseUrl } });
    redis = createRedis(testApp.config.REDIS_URL, 'worker');
    blockingRedis = createRedis(testApp.config.REDIS_URL, 'worker');
  });
  after(async () => {
    await redis.quit();
    blockingRedis.disconnect();
    await testApp.close();
    await isolated.drop();
  });

  it('shows what a worker handled, retried and published, counted through its hooks', async () => {
    const metrics = busMetricsRecorder(redis, prefix, 'pricing', 50);
    const relay = new OutboxRelay({
      db: testApp.db,
      redis,
      databaseUrl: testApp.config.DATABASE_URL,
      prefix,
      hooks: metrics.hooks,
    });
    let failures = 1;
    const consumer = new StreamConsumer({
      db: testApp.db,
      redis,
      blockingRedis,
      prefix,
      group: 'pricing',
      consumer: 'metrics-test',
      backoffMs: () => 10,
      hooks: metrics.hooks,
      handlers: {
        ConfigChanged: async () => {
          if (failures-- > 0) throw new Error('first try fails');
        },
      },
    });
    await relay.start();
    await consumer.start();
    try {
      const events = [1, 2, 3].map((n) =>
        createEvent(
          'ConfigChanged',
          {
            configVersion: n,
            discountBasisPoints: 1200,
            dailyDiscountQuota: 100,
            paymentSimulationMode: 'success',
            paymentFailureRate: 0,
            actor: 'test',
          },
          { bookingId: null, correlationId: randomUUID(), causationId: null },
        ),
      );
      await appendToOutbox(testApp.db, events);
      relay.kick();

      const sample = async (name: string) => {
        const { text } = await supertest(testApp.app)
          .get('/metrics')
          .set('Authorization', `Bearer ${process.env.METRICS_TOKEN}`);
        const line = text.split('\n').find((l) => l.startsWith(name));
        return line ? Number(line.split(' ').pop()) : 0;
      };
      await waitFor(
        async () =>
          (await sample('clinic_bus_events_handled_total{group="pricing",type="ConfigChanged"}')) === 3,
        {
          message: 'three handled events on /metrics',
        },
      );
      expect(await sample('clinic_bus_retries_total{group="pricing",type="ConfigChanged"}')).to.equal(1);
      expect(await sample('clinic_outbox_published_total{group="pricing",type=""}')).to.equal(3);
    } finally {
      await consumer.stop();
      await relay.stop();
      await metrics.stop();
    }
  });
});
