// What the bus integration tests share: connections to the run's PostgreSQL and Redis, a stream
// namespace per test, consumers and relays that are stopped after each test, and a scratch table
// that gives handlers a countable effect.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import { StreamConsumer, type ConsumerOptions, type Handler } from '../../lib/bus/consumer.js';
import { appendToOutbox, notifyOutbox } from '../../lib/bus/outbox.js';
import { createRedis, entryFields, streamKey } from '../../lib/bus/redis.js';
import { OutboxRelay, type RelayOptions } from '../../lib/bus/relay.js';
import { createDb, type Db, type Trx } from '../../lib/db/database.js';
import { createEvent, type Event } from '../../lib/events/catalogue.js';
import { logger } from '../../lib/logger.js';

/** Records one effect row; no unique key, so a second effect of one event shows as a second row. */
export async function recordEffect(trx: Trx | Db, event: Event, consumer: string): Promise<void> {
  await sql`INSERT INTO bus_test_effects (correlation_id, event_id, consumer) VALUES (${event.correlationId}, ${event.eventId}, ${consumer})`.execute(
    trx,
  );
}

/** `count` ConfigChanged events of one saga (correlation id): a carrier with a valid payload. */
export function configEvents(
  count: number,
  options: { correlationId?: string; actor?: string } = {},
): Event<'ConfigChanged'>[] {
  const correlationId = options.correlationId ?? randomUUID();
  return Array.from({ length: count }, (_, i) =>
    createEvent(
      'ConfigChanged',
      {
        configVersion: i + 1,
        discountBasisPoints: 1200,
        dailyDiscountQuota: 100,
        paymentSimulationMode: 'success',
        paymentFailureRate: 0,
        actor: options.actor ?? 'bus-test',
      },
      { bookingId: null, correlationId, causationId: null },
    ),
  );
}

export class BusTestBed {
  private readonly stoppers: (() => Promise<void>)[] = [];
  private prefixes = 0;

  private constructor(
    readonly db: Db,
    readonly redis: Redis,
    readonly databaseUrl: string,
    readonly redisUrl: string,
    private readonly runPrefix: string,
  ) {}

  /** Call in a `before` hook: the root hook has put the run's database and prefix in the environment. */
  static async open(): Promise<BusTestBed> {
    const { DATABASE_URL, REDIS_URL, REDIS_PREFIX } = process.env;
    if (!DATABASE_URL || !REDIS_URL || REDIS_PREFIX === undefined)
      throw new Error('the root test hook has not set up the run');
    const db = createDb(DATABASE_URL, 20);
    await sql`
      CREATE TABLE IF NOT EXISTS bus_test_effects (
        id bigserial PRIMARY KEY,
        correlation_id uuid NOT NULL,
        event_id uuid NOT NULL,
        consumer text NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`.execute(db);
    // These tests fail handlers and acks on purpose: their warnings are noise (BUS_TEST_LOGS=1 shows them).
    logger.silent = !process.env.BUS_TEST_LOGS;
    return new BusTestBed(
      db,
      createRedis(REDIS_URL, 'worker', 'bus-test'),
      DATABASE_URL,
      REDIS_URL,
      REDIS_PREFIX,
    );
  }

  /** A stream namespace of its own (under the run's prefix): a test never sees another's entries. */
  newPrefix(): string {
    this.prefixes += 1;
    return `${this.runPrefix}bus${this.prefixes}-${randomUUID().slice(0, 8)}:`;
  }

  key(prefix: string, stream: string): string {
    return streamKey(prefix, stream);
  }

  async consumer(
    options: Pick<ConsumerOptions, 'prefix' | 'group' | 'handlers'> & Partial<ConsumerOptions>,
  ): Promise<StreamConsumer> {
    const blockingRedis = createRedis(this.redisUrl, 'worker', `${options.group}:reader`);
    const consumer = new StreamConsumer({
      db: this.db,
      redis: this.redis,
      blockingRedis,
      consumer: `test-${randomUUID().slice(0, 8)}`,
      blockMs: 200,
      claimIdleMs: 300,
      backoffMs: () => 20,
      ...options,
    });
    // stop() disconnects the blocking connection; disconnect again in case start() failed.
    this.stoppers.push(async () => {
      await consumer.stop();
      blockingRedis.disconnect();
    });
    await consumer.start();
    return consumer;
  }

  async relay(options: Partial<RelayOptions> & Pick<RelayOptions, 'prefix'>): Promise<OutboxRelay> {
    const relay = new OutboxRelay({
      db: this.db,
      redis: this.redis,
      databaseUrl: this.databaseUrl,
      pollMs: 100,
      ...options,
    });
    this.stoppers.push(() => relay.stop());
    await relay.start();
    return relay;
  }

  /** XADDs an event as the relay would (or any fields, for a malformed entry). */
  async publish(
    prefix: string,
    stream: string,
    ...events: (Event | { fields: string[] })[]
  ): Promise<string[]> {
    const pipeline = this.redis.pipeline();
    for (const event of events)
      pipeline.xadd(
        streamKey(prefix, stream),
        '*',
        ...('fields' in event ? event.fields : entryFields(event)),
      );
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, id]) => {
      if (error) throw error;
      return String(id);
    });
  }

  /** A producer's transaction: outbox rows committed, then the relays woken. */
  async writeToOutbox(events: Event[]): Promise<void> {
    await this.db.transaction().execute((trx) => appendToOutbox(trx, events));
    await notifyOutbox(this.db);
  }

  /** Effects per event id of one saga. */
  async effects(correlationId: string): Promise<{ eventId: string; consumer: string }[]> {
    const { rows } = await sql<{ event_id: string; consumer: string }>`
      SELECT event_id, consumer FROM bus_test_effects WHERE correlation_id = ${correlationId} ORDER BY id`.execute(
      this.db,
    );
    return rows.map((row) => ({ eventId: row.event_id, consumer: row.consumer }));
  }

  async pending(prefix: string, stream: string, group: string): Promise<number> {
    const [count] = (await this.redis.xpending(streamKey(prefix, stream), group)) as [number, ...unknown[]];
    return count;
  }

  /** Group info from XINFO GROUPS (Redis 7: name, consumers, pending, last-delivered-id, entries-read, lag). */
  async groupInfo(
    prefix: string,
    stream: string,
    group: string,
  ): Promise<Record<string, string | number | null>> {
    const groups = (await this.redis.call('XINFO', 'GROUPS', streamKey(prefix, stream))) as (
      string | number | null
    )[][];
    for (const fields of groups) {
      const info: Record<string, string | number | null> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) info[String(fields[i])] = fields[i + 1] ?? null;
      if (info.name === group) return info;
    }
    throw new Error(`no group ${group}`);
  }

  /** Stops what the test started (in `afterEach`). */
  async stopAll(): Promise<void> {
    const stoppers = this.stoppers.splice(0);
    await Promise.all(stoppers.map((stop) => stop()));
  }

  async close(): Promise<void> {
    await this.stopAll();
    await this.redis.quit().catch(() => this.redis.disconnect());
    await this.db.destroy();
    logger.silent = false;
  }
}

/** A handler for ConfigChanged that records an effect in the handler's transaction. */
export function effectHandler(consumer: string): Handler<'ConfigChanged'> {
  return (event, { trx }) => recordEffect(trx, event, consumer);
}
