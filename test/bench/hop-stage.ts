// One stage of the bus floor (bus-floor.ts): a process that runs the real bus machinery of a saga
// participant and no business work. It consumes ConfigChanged from its own stream namespace
// (`<BUS_FLOOR_PREFIX>hop<N>:`) as consumer group hop-<N>, records the inbox row, and emits the next
// event into the next stage's namespace, published by its own relay right after the commit, as the
// participants' events are. The last stage records the chain's end in bench_hops instead.
// Environment: DATABASE_URL, REDIS_URL, BUS_FLOOR_PREFIX, HOP_STAGE (1-based), HOPS.
import { sql } from 'kysely';
import { StreamConsumer } from '../../lib/bus/consumer.js';
import { createRedis } from '../../lib/bus/redis.js';
import { OutboxRelay } from '../../lib/bus/relay.js';
import { createDb } from '../../lib/db/database.js';
import { logger } from '../../lib/logger.js';

logger.silent = true;
const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`hop-stage: ${name} is not set`);
  return value;
};
const stage = Number(env('HOP_STAGE'));
const last = stage === Number(env('HOPS'));
const base = env('BUS_FLOOR_PREFIX');
const group = `hop-${stage}`;
// The participants' pool and bus settings (lib/config.ts defaults).
const db = createDb(env('DATABASE_URL'), 10);
const redis = createRedis(env('REDIS_URL'), 'worker', `${group}:commands`);
const blockingRedis = createRedis(env('REDIS_URL'), 'worker', `${group}:reader`);
const relay = new OutboxRelay({
  db,
  redis,
  databaseUrl: env('DATABASE_URL'),
  prefix: `${base}hop${stage + 1}:`,
  // Each stage publishes to its own next namespace: no relay takes another stage's rows during a run.
  directGraceMs: 10 * 60_000,
});
const consumer = new StreamConsumer({
  db,
  redis,
  blockingRedis,
  prefix: `${base}hop${stage}:`,
  group,
  consumer: `${group}-1`,
  maxTransactions: 9,
  handlers: {
    ConfigChanged: async (event, { trx, emit }) => {
      if (last)
        await sql`INSERT INTO bench_hops (correlation_id, finished_at) VALUES (${event.correlationId}, clock_timestamp())`.execute(
          trx,
        );
      else emit('ConfigChanged', event.data);
    },
  },
  onEmitted: () => relay.kick(),
  publish: (events, alsoSend) => relay.publishCommitted(events, alsoSend),
});

process.once('SIGTERM', () => {
  void (async () => {
    await consumer.stop();
    await relay.stop();
    await redis.quit();
    await db.destroy();
    process.exit(0);
  })();
});

await relay.start();
await consumer.start();
process.stdout.write('ready\n');
