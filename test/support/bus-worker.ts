// A consumer process for tests that kill a worker: `node --import tsx test/support/bus-worker.ts`.
// It handles ConfigChanged by recording an effect, then sleeps inside the still-open transaction,
// so a SIGKILL lands mid-handler. It tells the test what it does by lines on stdout:
//   bus-worker ready | bus-worker handling <eventId> | bus-worker committed <eventId>
// Environment: DATABASE_URL, REDIS_URL, BUS_PREFIX, BUS_GROUP, CONSUMER_NAME, HANDLER_DELAY_MS,
// BUS_BATCH_SIZE (default 1), BUS_CLAIM_IDLE_MS (default 300).
import { StreamConsumer } from '../../lib/bus/consumer.js';
import { createRedis } from '../../lib/bus/redis.js';
import { createDb } from '../../lib/db/database.js';
import { logger } from '../../lib/logger.js';
import { recordEffect } from './bus-harness.js';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`bus-worker: ${name} is not set`);
  return value;
}

const say = (line: string): void => {
  process.stdout.write(`bus-worker ${line}\n`);
};
// stdout carries the signal lines only.
logger.silent = true;

const consumerName = required('CONSUMER_NAME');
const delayMs = Number(process.env.HANDLER_DELAY_MS ?? 0);
const db = createDb(required('DATABASE_URL'), 4);
const redis = createRedis(required('REDIS_URL'), 'worker', `${consumerName}:commands`);
const blockingRedis = createRedis(required('REDIS_URL'), 'worker', `${consumerName}:reader`);

const consumer = new StreamConsumer({
  db,
  redis,
  blockingRedis,
  prefix: required('BUS_PREFIX'),
  group: required('BUS_GROUP'),
  consumer: consumerName,
  batchSize: Number(process.env.BUS_BATCH_SIZE ?? 1),
  blockMs: 200,
  claimIdleMs: Number(process.env.BUS_CLAIM_IDLE_MS ?? 300),
  handlers: {
    ConfigChanged: async (event, { trx }) => {
      await recordEffect(trx, event, consumerName);
      say(`handling ${event.eventId}`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    },
  },
  hooks: { beforeAck: ({ eventId }) => say(`committed ${eventId}`) },
});

process.once('SIGTERM', () => {
  void (async () => {
    await consumer.stop();
    await redis.quit();
    await db.destroy();
  })();
});

await consumer.start();
say('ready');
