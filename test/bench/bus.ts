// Benchmark of the event bus against this machine's own ceilings: `tsx test/bench/bus.ts [--json]`.
// Uses its own database and Redis prefix (createTestEnvironment), dropped at the end.
//
// - raw Redis: XADD → XREADGROUP → XACK, a closed loop with 64 entries in flight;
// - raw PostgreSQL: single-row INSERT commits at the bus's concurrency;
// - the bus end to end, as the system's processes use it: a producer transaction writes an outbox row,
//   then the producer publishes it itself (XADD, marked in bulk; the relay only catches up on what is
//   lost) → consumer transaction (inbox + a trivial effect) → XACK. Its most events/s with one transaction per
//   event and with one per read batch (transactionPerBatch), and its latency at 1,000 events/s offered
//   (batch mode), from the event's creation to the handler's commit.
// - the floor under that latency: one durable single-row commit offered at the same rate.
// --json prints one JSON object (batch mode figures) and nothing else on stdout.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import { StreamConsumer } from '../../lib/bus/consumer.js';
import { appendToOutbox } from '../../lib/bus/outbox.js';
import { createRedis, streamKey } from '../../lib/bus/redis.js';
import { DIRECT_PUBLISH_GRACE_MS, OutboxRelay } from '../../lib/bus/relay.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { migrateToLatest } from '../../lib/db/migrate.js';
import { createEvent } from '../../lib/events/catalogue.js';
import { logger } from '../../lib/logger.js';
import { createTestEnvironment } from '../support/test-env.js';

const json = process.argv.includes('--json');
/** PostgreSQL clients on each side of the bus (producers; relay + consumer), and for the raw ceiling. */
const CONCURRENCY = 16;
const STREAM_IN_FLIGHT = 64;
const RAW_SECONDS = 2;
const WARM_UP_MS = 1_000;
const MAX_SECONDS = 5;
const LATENCY_RATE = 1_000;
const LATENCY_SECONDS = 5;
/** The producer of the outbox rows: it publishes them itself, as the web and the participants do. */
const PRODUCER = 'bench-producer';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const progress = (line: string) => {
  if (!json) process.stderr.write(`  … ${line}\n`);
};

/** Closed loop: every entry read and acked is replaced by a new XADD, so STREAM_IN_FLIGHT stay in flight. */
async function rawStreamEventsPerSec(redisUrl: string, prefix: string): Promise<number> {
  const producer = createRedis(redisUrl, 'worker', 'bench:producer');
  const reader = createRedis(redisUrl, 'worker', 'bench:reader');
  const key = streamKey(prefix, 'bench-raw');
  try {
    await producer.xgroup('CREATE', key, 'raw', '0', 'MKSTREAM');
    const add = (count: number) => {
      const pipeline = producer.pipeline();
      for (let i = 0; i < count; i++) pipeline.xadd(key, '*', 'type', 'Bench', 'event', '{"n":1}');
      return pipeline.exec();
    };
    void add(STREAM_IN_FLIGHT);
    const countFrom = Date.now() + 300;
    const end = countFrom + RAW_SECONDS * 1_000;
    let counted = 0;
    while (Date.now() < end) {
      const reply = (await reader.xreadgroup(
        'GROUP',
        'raw',
        'r1',
        'COUNT',
        STREAM_IN_FLIGHT,
        'BLOCK',
        1_000,
        'STREAMS',
        key,
        '>',
      )) as [string, [string, string[]][]][] | null;
      const ids = reply?.[0]?.[1].map(([id]) => id) ?? [];
      if (ids.length === 0) continue;
      void producer.xack(key, 'raw', ...ids);
      void add(ids.length);
      if (Date.now() >= countFrom) counted += ids.length;
    }
    return counted / RAW_SECONDS;
  } finally {
    await producer.quit();
    await reader.quit();
  }
}

async function rawCommitsPerSec(databaseUrl: string): Promise<number> {
  const db = createDb(databaseUrl, CONCURRENCY);
  try {
    await sql`CREATE TABLE bench_raw (id bigserial PRIMARY KEY, event_id uuid NOT NULL, at timestamptz NOT NULL DEFAULT now())`.execute(
      db,
    );
    const countFrom = Date.now() + 300;
    const end = countFrom + RAW_SECONDS * 1_000;
    let counted = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < end) {
          await sql`INSERT INTO bench_raw (event_id) VALUES (${randomUUID()})`.execute(db);
          if (Date.now() >= countFrom) counted += 1;
        }
      }),
    );
    return counted / RAW_SECONDS;
  } finally {
    await db.destroy();
  }
}

/** The floor under the bus's latency: one durable single-row commit, offered at LATENCY_RATE. */
async function rawCommitLatency(databaseUrl: string): Promise<{ p50Ms: number; p99Ms: number }> {
  const db = createDb(databaseUrl, CONCURRENCY);
  try {
    const latencies: number[] = [];
    const writes: Promise<void>[] = [];
    const started = performance.now();
    let sent = 0;
    while (performance.now() < started + LATENCY_SECONDS * 1_000) {
      const due = Math.floor(((performance.now() - started) * LATENCY_RATE) / 1_000);
      for (; sent < due; sent++) {
        const at = performance.now();
        writes.push(
          sql`INSERT INTO bench_raw (event_id) VALUES (${randomUUID()})`
            .execute(db)
            .then(() => void latencies.push(performance.now() - at)),
        );
      }
      await sleep(1);
    }
    await Promise.all(writes);
    return percentiles(latencies);
  } finally {
    await db.destroy();
  }
}

function percentiles(values: number[]): { p50Ms: number; p99Ms: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** Producers, a relay and a consumer in this process, on their own stream namespace. */
class Bus {
  private readonly producerDb: Db;
  private readonly busDb: Db;
  private readonly redis: Redis;
  private readonly blockingRedis: Redis;
  private readonly relay: OutboxRelay;
  private readonly consumer: StreamConsumer;
  produced = 0;
  handled = 0;
  /** Event id → when the event was created, for events whose latency is measured. */
  private readonly watched = new Map<string, number>();
  readonly latencies: number[] = [];

  constructor(databaseUrl: string, redisUrl: string, prefix: string, transactionPerBatch: boolean) {
    this.producerDb = createDb(databaseUrl, CONCURRENCY);
    this.busDb = createDb(databaseUrl, CONCURRENCY);
    this.redis = createRedis(redisUrl, 'worker', 'bench:commands');
    this.blockingRedis = createRedis(redisUrl, 'worker', 'bench:blocking');
    this.relay = new OutboxRelay({
      db: this.busDb,
      redis: this.redis,
      databaseUrl,
      prefix,
      directGraceMs: DIRECT_PUBLISH_GRACE_MS,
    });
    this.consumer = new StreamConsumer({
      db: this.busDb,
      redis: this.redis,
      blockingRedis: this.blockingRedis,
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
          this.handled += 1;
          const createdAt = this.watched.get(eventId);
          if (createdAt !== undefined) this.latencies.push(performance.now() - createdAt);
        },
      },
    });
  }

  async start(): Promise<void> {
    await this.relay.start();
    await this.consumer.start();
  }

  /** One producer commit writing one event to the outbox, then published by the producer itself. */
  async produce(watch = false): Promise<void> {
    this.produced += 1;
    const data = {
      configVersion: this.produced,
      discountBasisPoints: 1200,
      dailyDiscountQuota: 100,
      paymentSimulationMode: 'success' as const,
      paymentFailureRate: 0,
      actor: 'bench',
    };
    const event = createEvent('ConfigChanged', data, {
      bookingId: null,
      correlationId: randomUUID(),
      causationId: null,
    });
    if (watch) this.watched.set(event.eventId, performance.now());
    try {
      // The producer's commit: one INSERT, the same single-row commit as the raw PostgreSQL ceiling.
      await appendToOutbox(this.producerDb, [event], PRODUCER);
    } catch (error) {
      this.produced -= 1;
      throw error;
    }
    this.relay.publishCommitted([event]);
  }

  async drained(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.handled < this.produced) {
      if (Date.now() > deadline)
        throw new Error(`bus not drained: ${this.handled} of ${this.produced} handled`);
      await sleep(10);
    }
  }

  async close(): Promise<void> {
    await this.consumer.stop();
    await this.relay.stop();
    await this.redis.quit();
    this.blockingRedis.disconnect();
    await this.producerDb.destroy();
    await this.busDb.destroy();
  }
}

/** Producers as fast as the bus takes them, with a bounded backlog; handled events per second. */
async function busEventsPerSec(bus: Bus): Promise<number> {
  const backlog = 2_000;
  const end = Date.now() + WARM_UP_MS + MAX_SECONDS * 1_000;
  let handledAtStart = 0;
  const warm = setTimeout(() => (handledAtStart = bus.handled), WARM_UP_MS);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        if (bus.produced - bus.handled >= backlog) await sleep(1);
        else await bus.produce();
      }
    }),
  );
  clearTimeout(warm);
  const handled = bus.handled - handledAtStart;
  await bus.drained(30_000);
  return handled / MAX_SECONDS;
}

/** Open loop at LATENCY_RATE: events are produced on schedule whether or not the bus keeps up. */
async function busLatency(bus: Bus): Promise<{ p50Ms: number; p99Ms: number; count: number }> {
  const started = performance.now();
  let sent = 0;
  let failed = 0;
  const writes: Promise<void>[] = [];
  while (performance.now() < started + LATENCY_SECONDS * 1_000) {
    const due = Math.floor(((performance.now() - started) * LATENCY_RATE) / 1_000);
    for (; sent < due; sent++) writes.push(bus.produce(true).catch(() => void (failed += 1)));
    await sleep(1);
  }
  await Promise.all(writes);
  // A producer that could not even get a connection in time: the offered rate was not sustained.
  if (failed > 0)
    throw new Error(`${failed} of ${sent} writes failed: the bus did not keep up with ${LATENCY_RATE}/s`);
  await bus.drained(30_000);
  return { ...percentiles(bus.latencies), count: bus.latencies.length };
}

async function withBus<T>(
  environment: { databaseUrl: string; redisUrl: string; redisPrefix: string },
  transactionPerBatch: boolean,
  run: (bus: Bus) => Promise<T>,
): Promise<T> {
  const prefix = `${environment.redisPrefix}${transactionPerBatch ? 'batch' : 'event'}:`;
  const bus = new Bus(environment.databaseUrl, environment.redisUrl, prefix, transactionPerBatch);
  await bus.start();
  try {
    return await run(bus);
  } finally {
    await bus.close();
  }
}

async function main(): Promise<void> {
  // stdout carries the result only.
  logger.silent = true;
  const environment = await createTestEnvironment();
  try {
    const db = createDb(environment.databaseUrl, 1);
    await migrateToLatest(db);
    await sql`CREATE TABLE bench_effects (event_id uuid PRIMARY KEY)`.execute(db);
    // A NOTIFY inside the writing transaction serialises the commits of outbox writers: say which case this is.
    const triggers = await sql<{ present: boolean }>`
      SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'bus.outbox'::regclass AND NOT tgisinternal) AS present`.execute(
      db,
    );
    const outboxTrigger = triggers.rows[0]?.present ?? false;
    await db.destroy();

    progress('raw Redis stream ceiling');
    const rawStream = await rawStreamEventsPerSec(environment.redisUrl, environment.redisPrefix);
    progress('raw PostgreSQL commit ceiling');
    const rawCommits = await rawCommitsPerSec(environment.databaseUrl);
    progress(`raw PostgreSQL commit latency at ${LATENCY_RATE}/s`);
    const rawLatency = await rawCommitLatency(environment.databaseUrl);
    progress('bus at full speed, a transaction per event');
    const perEventMax = await withBus(environment, false, busEventsPerSec);
    progress('bus at full speed, a transaction per batch');
    const { max, latency } = await withBus(environment, true, async (bus) => {
      const max = await busEventsPerSec(bus);
      progress(`bus at ${LATENCY_RATE} events/s offered, a transaction per batch`);
      return { max, latency: await busLatency(bus) };
    });

    const result = {
      rawCommitsPerSec: Math.round(rawCommits),
      rawStreamEventsPerSec: Math.round(rawStream),
      busEventsPerSec: Math.round(max),
      busToCommitRatio: Number((max / rawCommits).toFixed(3)),
      p50Ms: Number(latency.p50Ms.toFixed(2)),
      p99Ms: Number(latency.p99Ms.toFixed(2)),
      // Not asked for, but the floor under p99Ms: one durable commit at the same offered rate.
      rawCommitP50Ms: Number(rawLatency.p50Ms.toFixed(2)),
      rawCommitP99Ms: Number(rawLatency.p99Ms.toFixed(2)),
    };
    if (json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const number = (value: number) => value.toLocaleString('en-US');
    const ratio = (value: number) => (value / rawCommits).toFixed(2);
    const rows: [string, string][] = [
      [
        `Redis XADD → XREADGROUP → XACK, ${STREAM_IN_FLIGHT} in flight`,
        `${number(result.rawStreamEventsPerSec)} events/s`,
      ],
      [
        `PostgreSQL single-row INSERT, ${CONCURRENCY} clients`,
        `${number(result.rawCommitsPerSec)} commits/s`,
      ],
      [
        'Bus max, a transaction per event',
        `${number(Math.round(perEventMax))} events/s (${ratio(perEventMax)} of raw commits)`,
      ],
      [
        'Bus max, a transaction per batch',
        `${number(result.busEventsPerSec)} events/s (${ratio(max)} of raw commits; aim ≥ 0.33)`,
      ],
      [
        `PostgreSQL single-row commit at ${number(LATENCY_RATE)}/s, p50 / p99`,
        `${result.rawCommitP50Ms} / ${result.rawCommitP99Ms} ms (the floor: the bus commits twice per event)`,
      ],
      [
        `Bus latency at ${number(LATENCY_RATE)} events/s, p50`,
        `${result.p50Ms} ms (a transaction per batch)`,
      ],
      [
        `Bus latency at ${number(LATENCY_RATE)} events/s, p99`,
        `${result.p99Ms} ms (aim < 20 ms; ${number(latency.count)} events)`,
      ],
      ['NOTIFY trigger on bus.outbox', outboxTrigger ? 'yes: outbox writers commit one at a time' : 'no'],
    ];
    const width = Math.max(...rows.map(([label]) => label.length));
    const table = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join('\n');
    process.stdout.write(`\nEvent bus benchmark (${CONCURRENCY} PostgreSQL clients per side)\n${table}\n\n`);
  } finally {
    await environment.drop();
  }
}

await main();
