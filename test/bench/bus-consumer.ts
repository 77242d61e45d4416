// The consuming side of `bus.ts`, in a process of its own as a participant runs: a StreamConsumer whose
// handler inserts one row (a trivial effect), reporting to its parent over IPC.
//
// parent → child: { start: ConsumerStart }, { record: true } (note each handled event's commit time),
//                 { report: true } (send them), { stop: true }
// child → parent: { ready: true }, { handled: n } (every few ms while it moves), { times: [eventId, ms][] }
import { sql } from 'kysely';
import { StreamConsumer } from '../../lib/bus/consumer.js';
import { createRedis } from '../../lib/bus/redis.js';
import { createDb } from '../../lib/db/database.js';
import { logger } from '../../lib/logger.js';

export interface ConsumerStart {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  transactionPerBatch: boolean;
  connections: number;
}

export type ToConsumer = { start: ConsumerStart } | { record: true } | { report: true } | { stop: true };
export type FromConsumer = { ready: true } | { handled: number } | { times: [string, number][] };

/** How often the count of handled events goes to the parent (its backlog bound and drain wait on it). */
const REPORT_EVERY_MS = 5;

/** Milliseconds on a clock shared by the processes of one machine (the parent's is the same). */
const now = () => performance.timeOrigin + performance.now();

const send = (message: FromConsumer) => process.send?.(message);

async function run({ databaseUrl, redisUrl, prefix, transactionPerBatch, connections }: ConsumerStart) {
  const db = createDb(databaseUrl, connections);
  const redis = createRedis(redisUrl, 'worker', 'bench:commands');
  const blockingRedis = createRedis(redisUrl, 'worker', 'bench:blocking');
  let handled = 0;
  let reported = 0;
  let recording = false;
  const times: [string, number][] = [];
  const consumer = new StreamConsumer({
    db,
    redis,
    blockingRedis,
    prefix,
    group: 'bench',
    consumer: 'bench-1',
    transactionPerBatch,
    handlers: {
      ConfigChanged: async (event, { trx }) => {
        await sql`INSERT INTO bench_effects (event_id) VALUES (${event.eventId})`.execute(trx);
      },
    },
    hooks: {
      // Right after the handler's commit.
      beforeAck: ({ eventId }) => {
        handled += 1;
        if (recording) times.push([eventId, now()]);
      },
    },
  });
  await consumer.start();
  const timer = setInterval(() => {
    if (handled === reported) return;
    reported = handled;
    send({ handled });
  }, REPORT_EVERY_MS);
  const stop = async () => {
    clearInterval(timer);
    await consumer.stop();
    await redis.quit();
    blockingRedis.disconnect();
    await db.destroy();
    process.disconnect();
  };
  process.on('message', (message: ToConsumer) => {
    if ('record' in message) recording = true;
    else if ('report' in message) send({ times });
    else if ('stop' in message) void stop();
  });
  send({ ready: true });
}

// stdout and stderr belong to the parent's table.
logger.silent = true;
// A parent gone (a benchmark interrupted) leaves no consumer running behind it.
process.once('disconnect', () => process.exit(0));
process.once('message', (message: ToConsumer) => {
  if (!('start' in message)) return;
  run(message.start).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});
