// Benchmark of the event bus against this machine's own ceilings: `tsx test/bench/bus.ts [--json]`.
// Uses its own database and Redis prefix (createTestEnvironment), dropped at the end.
//
// - raw Redis: XADD → XREADGROUP → XACK, a closed loop with 64 entries in flight;
// - raw PostgreSQL: single-row INSERT commits at the bus's concurrency;
// - the bus end to end, as the system's processes use it: a producer transaction writes an outbox row,
//   then the producer publishes it itself (XADD, marked in bulk; the relay only catches up on what is
//   lost) → consumer transaction (inbox + a trivial effect) → XACK. The producers and the relay run in
//   this process, the consumer in one of its own (bus-consumer.ts), as the web and a worker do. Its
//   most events/s with one transaction per event and with one per read batch (transactionPerBatch),
//   and its latency at 1,000 events/s offered (batch mode), from the event's creation to the
//   handler's commit; the machine's CPU (every process) per raw commit and per bus event.
// - the floor under that latency: one durable single-row commit offered at the same rate.
// --json prints one JSON object (batch mode figures) and nothing else on stdout.
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import { appendToOutbox } from '../../lib/bus/outbox.js';
import { createRedis, streamKey } from '../../lib/bus/redis.js';
import { DIRECT_PUBLISH_GRACE_MS, OutboxRelay } from '../../lib/bus/relay.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { migrateToLatest } from '../../lib/db/migrate.js';
import { createEvent } from '../../lib/events/catalogue.js';
import { logger } from '../../lib/logger.js';
import { createTestEnvironment } from '../support/test-env.js';
import { machineCpuSeconds } from './bench-support.js';
import type { FromConsumer, ToConsumer } from './bus-consumer.js';

const json = process.argv.includes('--json');
/** PostgreSQL clients on each side of the bus (the producers; the consumer), and for the raw ceiling. */
const CONCURRENCY = 16;
const STREAM_IN_FLIGHT = 64;
const RAW_SECONDS = 2;
const WARM_UP_MS = 1_000;
const MAX_SECONDS = 5;
const LATENCY_RATE = 1_000;
const LATENCY_SECONDS = 5;
/** The producer of the outbox rows: it publishes them itself, as the web and the participants do. */
const PRODUCER = 'bench-producer';
/** The relay's pool: it only marks what the producers published, a batch at a time. */
const RELAY_CONNECTIONS = 4;

/** Milliseconds on a clock shared by the processes of one machine (the consumer's is the same). */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const progress = (line: string) => {
  if (!json) process.stderr.write(`  … ${line}\n`);
};

/** A rate, and the machine's CPU while it was measured (all its processes: PostgreSQL, Redis, Node). */
type Throughput = { perSec: number; cpuUsEach: number; busyShare: number };

/** Starts a window over the machine's CPU; closing it with how many were done gives a Throughput. */
function cpuWindow(seconds: number) {
  const from = machineCpuSeconds();
  return (count: number): Throughput => {
    const to = machineCpuSeconds();
    const busy = to.busy - from.busy;
    const all = to.all - from.all;
    return { perSec: count / seconds, cpuUsEach: (busy * 1e6) / count, busyShare: busy / all };
  };
}

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

async function rawCommitsPerSec(databaseUrl: string): Promise<Throughput> {
  const db = createDb(databaseUrl, CONCURRENCY);
  try {
    await sql`CREATE TABLE bench_raw (id bigserial PRIMARY KEY, event_id uuid NOT NULL, at timestamptz NOT NULL DEFAULT now())`.execute(
      db,
    );
    const countFrom = Date.now() + 300;
    const end = countFrom + RAW_SECONDS * 1_000;
    let counted = 0;
    const window = new Promise<ReturnType<typeof cpuWindow>>((resolve) =>
      setTimeout(() => resolve(cpuWindow(RAW_SECONDS)), countFrom - Date.now()),
    );
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < end) {
          await sql`INSERT INTO bench_raw (event_id) VALUES (${randomUUID()})`.execute(db);
          if (Date.now() >= countFrom) counted += 1;
        }
      }),
    );
    return (await window)(counted);
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

/**
 * Producers and a relay in this process, as the web or a participant that emits; the consumer in a
 * process of its own (bus-consumer.ts), as a participant runs. Its own stream namespace.
 */
class Bus {
  private readonly producerDb: Db;
  private readonly relayDb: Db;
  private readonly redis: Redis;
  private readonly relay: OutboxRelay;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  produced = 0;
  /** As the consumer last reported it (every few milliseconds). */
  handled = 0;
  /** Event id → when the event was created, for events whose latency is measured. */
  private readonly watched = new Map<string, number>();

  constructor(
    private readonly databaseUrl: string,
    private readonly redisUrl: string,
    private readonly prefix: string,
    private readonly transactionPerBatch: boolean,
  ) {
    this.producerDb = createDb(databaseUrl, CONCURRENCY);
    this.relayDb = createDb(databaseUrl, RELAY_CONNECTIONS);
    this.redis = createRedis(redisUrl, 'worker', 'bench:commands');
    this.relay = new OutboxRelay({
      db: this.relayDb,
      redis: this.redis,
      databaseUrl,
      prefix,
      directGraceMs: DIRECT_PUBLISH_GRACE_MS,
    });
    this.child = fork(fileURLToPath(new URL('./bus-consumer.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.child.on('message', (message: FromConsumer) => {
      if ('handled' in message) this.handled = message.handled;
    });
  }

  private tell(message: ToConsumer): void {
    this.child.send(message);
  }

  /** The consumer's next message of one kind; fails if its process ends first. */
  private reply<K extends string>(kind: K): Promise<Extract<FromConsumer, Record<K, unknown>>> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromConsumer) => {
        if (!(kind in message)) return;
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        resolve(message as Extract<FromConsumer, Record<K, unknown>>);
      };
      const onExit = (code: number | null) => {
        this.child.off('message', onMessage);
        reject(new Error(`the consumer process ended (${code}) before its "${kind}"`));
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
    });
  }

  async start(): Promise<void> {
    await this.relay.start();
    const ready = this.reply('ready');
    this.tell({
      start: {
        databaseUrl: this.databaseUrl,
        redisUrl: this.redisUrl,
        prefix: this.prefix,
        transactionPerBatch: this.transactionPerBatch,
        connections: CONCURRENCY,
      },
    });
    await ready;
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
    if (watch) this.watched.set(event.eventId, now());
    try {
      // The producer's commit: one INSERT, the same single-row commit as the raw PostgreSQL ceiling.
      await appendToOutbox(this.producerDb, [event], PRODUCER);
    } catch (error) {
      this.produced -= 1;
      throw error;
    }
    this.relay.publishCommitted([event]);
  }

  /** From here on the consumer notes when it commits each event. */
  record(): void {
    this.tell({ record: true });
  }

  /** From each watched event's creation to its handler's commit, in milliseconds. */
  async latencies(): Promise<number[]> {
    const report = this.reply('times');
    this.tell({ report: true });
    const { times } = await report;
    return times.flatMap(([eventId, at]) => {
      const createdAt = this.watched.get(eventId);
      return createdAt === undefined ? [] : [at - createdAt];
    });
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
    if (this.child.connected) this.tell({ stop: true });
    await this.exited;
    await this.relay.stop();
    await this.redis.quit();
    await this.producerDb.destroy();
    await this.relayDb.destroy();
  }
}

/** Producers as fast as the bus takes them, with a bounded backlog; handled events per second. */
async function busEventsPerSec(bus: Bus): Promise<Throughput> {
  const backlog = 2_000;
  const end = Date.now() + WARM_UP_MS + MAX_SECONDS * 1_000;
  let handledAtStart = 0;
  let window = cpuWindow(MAX_SECONDS);
  const warm = setTimeout(() => {
    handledAtStart = bus.handled;
    window = cpuWindow(MAX_SECONDS);
  }, WARM_UP_MS);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        if (bus.produced - bus.handled >= backlog) await sleep(1);
        else await bus.produce();
      }
    }),
  );
  clearTimeout(warm);
  const throughput = window(bus.handled - handledAtStart);
  await bus.drained(30_000);
  return throughput;
}

/** Open loop at LATENCY_RATE: events are produced on schedule whether or not the bus keeps up. */
async function busLatency(bus: Bus): Promise<{ p50Ms: number; p99Ms: number; count: number }> {
  bus.record();
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
  const latencies = await bus.latencies();
  return { ...percentiles(latencies), count: latencies.length };
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
      rawCommitsPerSec: Math.round(rawCommits.perSec),
      rawStreamEventsPerSec: Math.round(rawStream),
      busEventsPerSec: Math.round(max.perSec),
      busToCommitRatio: Number((max.perSec / rawCommits.perSec).toFixed(3)),
      p50Ms: Number(latency.p50Ms.toFixed(2)),
      p99Ms: Number(latency.p99Ms.toFixed(2)),
      // Not asked for, but the floor under p99Ms: one durable commit at the same offered rate.
      rawCommitP50Ms: Number(rawLatency.p50Ms.toFixed(2)),
      rawCommitP99Ms: Number(rawLatency.p99Ms.toFixed(2)),
      // What bounds the ratio: the machine's CPU (every process) per raw commit and per bus event.
      rawCommitCpuUs: Math.round(rawCommits.cpuUsEach),
      rawCommitBusyShare: Number(rawCommits.busyShare.toFixed(3)),
      busEventCpuUs: Math.round(max.cpuUsEach),
      busEventBusyShare: Number(max.busyShare.toFixed(3)),
    };
    if (json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const number = (value: number) => value.toLocaleString('en-US');
    const ratio = (value: number) => (value / rawCommits.perSec).toFixed(2);
    const percent = (share: number) => `${Math.round(share * 100)} %`;
    const busy = ({ busyShare }: Throughput) => `all cores ${percent(busyShare)} busy`;
    const rawCommitsPerEvent = (max.cpuUsEach / rawCommits.cpuUsEach).toFixed(1);
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
        `${number(Math.round(perEventMax.perSec))} events/s (${ratio(perEventMax.perSec)} of raw commits)`,
      ],
      [
        'Bus max, a transaction per batch',
        `${number(result.busEventsPerSec)} events/s (${ratio(max.perSec)} of raw commits; aim ≥ 0.33)`,
      ],
      [
        'Machine CPU per raw commit (every process)',
        `${number(result.rawCommitCpuUs)} µs (${busy(rawCommits)})`,
      ],
      [
        'Machine CPU per bus event, a transaction per batch',
        `${number(result.busEventCpuUs)} µs (${busy(max)}; ${rawCommitsPerEvent} raw commits' worth)`,
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
    const verdict = (met: boolean) => (met ? 'met    ' : 'NOT met');
    const aims = [
      `  ${verdict(result.busToCommitRatio >= 1 / 3)}  a transaction per batch ≥ ⅓ of raw commits: ` +
        `${result.busToCommitRatio.toFixed(2)}; an event costs the machine ${rawCommitsPerEvent} raw ` +
        `commits' CPU, with the cores ${percent(max.busyShare)} busy (raw commits: ${percent(rawCommits.busyShare)})`,
      `  ${verdict(result.p99Ms < 20)}  p99 < 20 ms at ${number(LATENCY_RATE)} events/s: ${result.p99Ms} ms; ` +
        `two durable commits in a row, each with a p99 of ${result.rawCommitP99Ms} ms alone`,
    ].join('\n');
    process.stdout.write(
      `\nEvent bus benchmark (${CONCURRENCY} PostgreSQL clients per side)\n${table}\n\nAims\n${aims}\n\n`,
    );
  } finally {
    await environment.drop();
  }
}

await main();
