import type { Redis } from 'ioredis';
import { StreamConsumer, type Handler, type Handlers, type TwoStepHandler } from './bus/consumer.js';
import { busMetricsRecorder } from './bus/bus-metrics.js';
import { consumerName, createRedis } from './bus/redis.js';
import { DIRECT_PUBLISH_GRACE_MS, OutboxRelay } from './bus/relay.js';
import { trimStream } from './bus/trim.js';
import { streamNames } from './events/catalogue.js';
import { errorFields, logger } from './logger.js';
import { bootProcess, quitRedis, untilAvailable, type ProcessBase } from './process.js';
import { currentConfigEvent } from './settings/settings-service.js';
import type { Db } from './db/database.js';

export interface Participant {
  /** The consumer group: one per saga participant. */
  group: string;
  handlers: (base: ProcessBase & { redis: Redis }) => Handlers;
  /** Periodic work of the participant (e.g. the booking deadline sweep). */
  background?: (base: ProcessBase & { redis: Redis; relay: OutboxRelay }) => { stop(): Promise<void> | void };
  /** One transaction per read batch: only for handlers that do nothing but database writes. */
  transactionPerBatch?: boolean;
  /** Waits this long between reads that found no backlog, so batches grow (see ConsumerOptions). */
  lingerMs?: number;
  /** Entries handled at once when its handlers wait on the outside world (default: a read batch). */
  inFlight?: number;
}

const STREAM_RETENTION_MS = 60 * 60_000;
const TRIM_INTERVAL_MS = 30_000;

/** Runs one saga participant as a process: its consumer group, an outbox relay, stream trimming. */
export async function runParticipant(participant: Participant): Promise<void> {
  const base = bootProcess(participant.group);
  const { config, db, lifecycle } = base;
  const redis = createRedis(config.REDIS_URL, 'worker', `${participant.group}:commands`);
  const blockingRedis = createRedis(config.REDIS_URL, 'worker', `${participant.group}:reader`);
  // The bus's counters reach /metrics through Redis: workers serve no HTTP.
  const metrics = busMetricsRecorder(redis, config.REDIS_PREFIX, participant.group);
  const relay = new OutboxRelay({
    db,
    redis,
    databaseUrl: config.DATABASE_URL,
    prefix: config.REDIS_PREFIX,
    pollMs: config.BUS_POLL_MS,
    keepInboxMs: config.BUS_INBOX_RETENTION_DAYS * 24 * 3600_000,
    directGraceMs: DIRECT_PUBLISH_GRACE_MS,
    hooks: metrics.hooks,
  });
  const handlers = participant.handlers({ ...base, redis });
  const consumer = new StreamConsumer({
    db,
    redis,
    blockingRedis,
    prefix: config.REDIS_PREFIX,
    group: participant.group,
    consumer: consumerName(config),
    handlers,
    batchSize: config.BUS_BATCH_SIZE,
    inFlight: participant.inFlight,
    blockMs: config.BUS_BLOCK_MS,
    claimIdleMs: config.BUS_CLAIM_IDLE_MS,
    maxDeliveries: config.BUS_MAX_DELIVERIES,
    maxUnfinishedDeliveries: config.BUS_MAX_UNFINISHED_DELIVERIES,
    // One connection of the pool stays free for the relay and the background work.
    maxTransactions: Math.max(1, config.DATABASE_POOL_SIZE - 1),
    transactionPerBatch: participant.transactionPerBatch ?? false,
    lingerMs: participant.lingerMs ?? 0,
    onEmitted: () => relay.kick(),
    publish: (events, alsoSend) => relay.publishCommitted(events, alsoSend),
    hooks: metrics.hooks,
  });
  const trimmer = setInterval(() => {
    for (const stream of streamNames) {
      trimStream(redis, config.REDIS_PREFIX, stream, STREAM_RETENTION_MS).catch((error) =>
        logger.warn('stream trim failed', { stream, ...errorFields(error) }),
      );
    }
  }, TRIM_INTERVAL_MS);
  trimmer.unref();

  // The shutdown steps are in place before any start-up work: a SIGTERM during recovery stops cleanly.
  const started: { background?: { stop(): Promise<void> | void } } = {};
  let stopped = false;
  lifecycle.onShutdown('intake', () => {
    stopped = true;
  });
  lifecycle.onShutdown('background', () => started.background?.stop());
  lifecycle.onShutdown('consumer', () => consumer.stop());
  lifecycle.onShutdown('trimmer', () => clearInterval(trimmer));
  lifecycle.onShutdown('relay', () => relay.stop());
  lifecycle.onShutdown('metrics', () => metrics.stop());
  lifecycle.onShutdown('redis', async () => {
    await quitRedis(redis);
    blockingRedis.disconnect();
  });
  lifecycle.onShutdown('database', () => db.destroy());

  await relay.start();
  if (handlers.ConfigChanged) {
    const apply = handlers.ConfigChanged;
    await untilAvailable(
      'current configuration',
      () => applyCurrentConfig(db, apply),
      () => stopped,
    );
  }
  if (stopped) return;
  await consumer.start();
  if (stopped) return;
  started.background = participant.background?.({ ...base, redis, relay });
  logger.info('participant ready', { group: participant.group, streams: consumer.subscribedStreams });
}

/** Applies the committed configuration through the participant's own ConfigChanged handler (by version). */
async function applyCurrentConfig(
  db: Db,
  handler: Handler<'ConfigChanged'> | TwoStepHandler<'ConfigChanged'>,
): Promise<void> {
  const event = await currentConfigEvent(db);
  await db.transaction().execute(async (trx) => {
    const context = {
      trx,
      emit: () => {
        throw new Error('applying the configuration at start emits nothing');
      },
    };
    if (typeof handler === 'function') await handler(event, context);
    else await handler.inside(event, context, undefined);
  });
}
