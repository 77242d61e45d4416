import type { ChainableCommander, Redis } from 'ioredis';
import { CompiledQuery, sql, type RawBuilder } from 'kysely';
import { transactionWithEdges, valuesList, type Db, type Trx } from '../db/database.js';
import { runWithContext } from '../context.js';
import {
  catalogue,
  followUp,
  parseEvent,
  type Event,
  type EventData,
  type EventType,
} from '../events/catalogue.js';
import { errorFields, logger } from '../logger.js';
import { isTransient } from '../transient-errors.js';
import type { BusHooks } from './hooks.js';
import { outboxInsert, republishCausedBy } from './outbox.js';
import { Semaphore } from './semaphore.js';
import { DEAD_LETTER_STREAM, streamKey } from './redis.js';

export interface HandlerContext {
  trx: Trx;
  /** Emits the next event of this saga (same booking and correlation id, caused by the event handled). */
  emit<T extends EventType>(type: T, data: EventData<T>): Event<T>;
}
export type Handler<T extends EventType> = (event: Event<T>, context: HandlerContext) => Promise<void>;

/**
 * A handler whose effect on many events is one SQL statement, idempotent by event id, that emits
 * nothing (e.g. the audit log's multi-row insert). The statement reads `fresh`, a CTE of the event ids
 * this group has not handled before, and writes for those only. The consumer sends it with the inbox
 * insert that fills `fresh` as ONE statement: atomic without a transaction, so a read batch costs a
 * single round trip. Called as a plain handler (one event, in a transaction: at start-up, or in a read
 * batch mixed with other handlers) `fresh` holds that event.
 */
export type StatementHandler<T extends EventType> = Handler<T> & {
  statement(events: Event<T>[]): RawBuilder<unknown>;
};

export function inOneStatement<T extends EventType>(
  statement: (events: Event<T>[]) => RawBuilder<unknown>,
): StatementHandler<T> {
  const one: Handler<T> = async (event, { trx }) => {
    await sql`WITH fresh AS (SELECT ${event.eventId}::uuid AS event_id) ${statement([event])}`.execute(trx);
  };
  return Object.assign(one, { statement });
}

/**
 * A handler that calls the outside world (a payment gateway, a mail server): `outside` runs before the
 * handler's transaction and holds no connection or lock while it waits; `inside` then commits the
 * outcome with the inbox row and the emitted events. `outside` must be safe to repeat (an idempotency
 * key, a record of what was done): a crash or a rollback after it runs it again, and so does a copy of
 * an event handled before that arrives as a new entry (a re-drive, a relay's copy). A redelivered entry
 * whose event the inbox holds skips it.
 */
export interface TwoStepHandler<T extends EventType> {
  outside(event: Event<T>, db: Db): Promise<unknown>;
  inside(event: Event<T>, context: HandlerContext, prepared: unknown): Promise<void>;
  /** The inside as one statement that emits nothing (see twoStepInOneStatement). */
  statement?(event: Event<T>, prepared: unknown): RawBuilder<unknown>;
}

/** Types the two steps together: what `outside` returns is what `inside` gets. */
export function twoStep<T extends EventType, P>(
  outside: (event: Event<T>, db: Db) => Promise<P>,
  inside: (event: Event<T>, context: HandlerContext, prepared: P) => Promise<void>,
): TwoStepHandler<T> {
  return { outside, inside: (event, context, prepared) => inside(event, context, prepared as P) };
}

/**
 * A two-step handler whose inside is one statement that emits nothing (e.g. recording that an email
 * went): sent with the inbox row as ONE statement, no transaction around it, as inOneStatement's are.
 * The statement reads `fresh` (the event's id, unless the inbox had it) and writes only for it.
 */
export function twoStepInOneStatement<T extends EventType, P>(
  outside: (event: Event<T>, db: Db) => Promise<P>,
  statement: (event: Event<T>, prepared: P) => RawBuilder<unknown>,
): TwoStepHandler<T> {
  return {
    outside,
    inside: async (event, { trx }, prepared) => {
      await sql`WITH fresh AS (SELECT ${event.eventId}::uuid AS event_id) ${statement(event, prepared as P)}`.execute(
        trx,
      );
    },
    statement: (event, prepared) => statement(event, prepared as P),
  };
}

export type Handlers = { [T in EventType]?: Handler<T> | TwoStepHandler<T> };

export interface ConsumerOptions {
  db: Db;
  /** Commands (ack, claim, dead letters); may be shared. */
  redis: Redis;
  /** XREADGROUP BLOCK holds a connection: this one is the consumer's own, and stop() disconnects it. */
  blockingRedis: Redis;
  prefix: string;
  group: string;
  consumer: string;
  handlers: Handlers;
  /** Entries read at once; as many are handled side by side (claims and retries come on top). */
  batchSize?: number;
  /**
   * Entries handled side by side, read a batch at a time (default batchSize, or BATCHES_IN_FLIGHT
   * batches with transactionPerBatch): more for handlers whose outside step waits on the world (a
   * gateway) while holding no connection, fewer for handlers that hold much memory while they run.
   */
  inFlight?: number;
  /**
   * Transactions this consumer runs at once, whatever their source (reads, claims, retries, start-up
   * recovery): at most the connections its pool can give it, so no handler waits for one.
   */
  maxTransactions?: number;
  /**
   * Handles each read batch in one transaction: one commit for many events, which multiplies what a
   * consumer of quick handlers gets through. Only for handlers that do nothing but database work and
   * wait on nothing: they share the batch's locks until its commit, and when one fails the batch rolls
   * back and its entries are handled again one transaction each (retries and dead letters apply there).
   */
  transactionPerBatch?: boolean;
  /**
   * After a read that found no backlog, waits this long before reading again, so that entries gather
   * into fewer, larger batches (with transactionPerBatch, fewer commits). For a consumer nothing waits
   * on (the audit log): its entries are handled up to this much later. 0: read again at once.
   */
  lingerMs?: number;
  blockMs?: number;
  claimIdleMs?: number;
  maxDeliveries?: number;
  /**
   * Starts of one event's handler that ended in no outcome at all (its process killed or restarted
   * meanwhile, or a dependency down across a restart) before it is taken for a crash loop and
   * dead-lettered: well above `maxDeliveries`, since a restarted platform kills busy workers often.
   */
  maxUnfinishedDeliveries?: number;
  /** Delay before the redelivery of an entry whose n-th delivery failed; capped at claimIdleMs / 2. */
  backoffMs?: (deliveries: number) => number;
  hooks?: BusHooks;
  /** Called after a handler committed events to the outbox, to publish them at once. */
  onEmitted?: () => void;
  /**
   * Publishes the events a commit appended to the outbox itself, right after it, with the XACK of
   * what caused them in the same round trip (OutboxRelay's publishCommitted: it rejects only when a
   * command `alsoSend` added failed); onEmitted is then called only for rows set to go out again.
   */
  publish?: (events: readonly Event[], alsoSend: (pipeline: ChainableCommander) => void) => Promise<void>;
}

type Entry = { stream: string; id: string; fields: string[] };
/** What a commit did: the deliveries whose handler ran (the others were duplicates), the events it emitted. */
type Applied = { ran: Set<Delivery>; outgoing: Event[] };
type RawEntry = [id: string, fields: string[] | null];
type ReadReply = [key: string, entries: RawEntry[]][] | null;
type PendingRow = [id: string, consumer: string, idleMs: number, deliveries: number];
/** An entry whose event this group handles. */
type Delivery = {
  entry: Entry;
  event: Event;
  handler: TwoStepHandler<EventType>;
  /** Whether the handler has an outside step. */
  external: boolean;
  /** The handler's single statement for many events, if it has one. */
  statement?: StatementHandler<EventType>['statement'];
  raw: unknown;
};
/**
 * Done: acked or dead-lettered. Retry: left pending, claimed again after a backoff (one more delivery).
 * Transient: a dependency is down; retried without counting a delivery, for as long as that lasts.
 */
type Outcome = 'done' | 'retry' | 'transient';

const defaultBackoff = (deliveries: number) => Math.min(100 * 4 ** (deliveries - 1), 5_000);
const transientBackoff = (attempt: number) => Math.min(100 * 2 ** attempt, 2_000);
/** Batches handled side by side with transactionPerBatch (each holds one pooled connection). */
const BATCHES_IN_FLIGHT = 4;

// Atomic, so a consumer that reads again between the check and the delete cannot lose its pending entries.
const DELETE_CONSUMER_IF_IDLE = `
  if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return -1 end
  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])`;

/**
 * One consumer of a consumer group over the streams its handlers need. Each entry is handled in a
 * PostgreSQL transaction that records the event id in the inbox, applies the effect and appends the
 * emitted events to the outbox; only after the commit is the entry acknowledged. Failures are retried
 * with backoff, then dead-lettered; entries left pending by a dead consumer are claimed after an idle time.
 */
export class StreamConsumer {
  private running = false;
  private stopping: Promise<void> | null = null;
  private loop: Promise<void> | null = null;
  private starting: Promise<void> | null = null;
  private claimTimer: NodeJS.Timeout | null = null;
  private claiming: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** Entries this instance is handling or will retry: its own stale claim must not start them twice. */
  private readonly owned = new Set<string>();
  /** Handler attempts counted for entries waiting out an outage (see attemptsOf). */
  private readonly counted = new Map<string, number>();
  /** Entries waiting out a transient failure: while any waits, the consumer reads nothing new. */
  private readonly outage = new Set<string>();
  private resumeReader: (() => void) | null = null;
  /** Ends a linger between reads early (stop). */
  private endLinger: (() => void) | null = null;
  private readonly transactions: Semaphore;
  /** The blocking connection's client id; null until read and after it reconnects. */
  private readerId: number | null = null;
  private readonly streams: string[];
  private readonly batchSize: number;
  private readonly blockMs: number;
  private readonly lingerMs: number;
  private readonly claimIdleMs: number;
  private readonly maxDeliveries: number;
  private readonly maxUnfinishedDeliveries: number;
  private readonly backoffMs: (deliveries: number) => number;

  constructor(private readonly options: ConsumerOptions) {
    const types = Object.keys(options.handlers) as EventType[];
    if (types.length === 0) throw new Error(`consumer group ${options.group} has no handlers`);
    this.streams = [...new Set(types.map((type) => catalogue[type].stream))].sort();
    this.batchSize = options.batchSize ?? 32;
    this.blockMs = options.blockMs ?? 2_000;
    this.lingerMs = options.lingerMs ?? 0;
    this.claimIdleMs = options.claimIdleMs ?? 30_000;
    this.maxDeliveries = options.maxDeliveries ?? 5;
    this.maxUnfinishedDeliveries = options.maxUnfinishedDeliveries ?? this.maxDeliveries * 4;
    this.transactions = new Semaphore(options.maxTransactions ?? 10);
    const backoff = options.backoffMs ?? defaultBackoff;
    // A longer wait would be cut short anyway: after claimIdleMs any consumer claims the entry.
    this.backoffMs = (deliveries) => Math.min(backoff(deliveries), this.claimIdleMs / 2);
  }

  private readonly forgetReaderId = () => {
    this.readerId = null;
  };

  get subscribedStreams(): readonly string[] {
    return this.streams;
  }

  /** A stop() during start-up ends it after the batch in hand: recovery does not run on regardless. */
  async start(): Promise<void> {
    if (this.stopping) return;
    this.running = true;
    this.options.blockingRedis.on('close', this.forgetReaderId);
    this.starting = (async () => {
      await this.ensureGroups();
      if (!this.running) return;
      await this.recoverOwnPending();
      if (!this.running) return;
      this.claimInBackground();
      await this.claiming;
      if (!this.running) return;
      this.claimTimer = setInterval(() => this.claimInBackground(), Math.max(this.claimIdleMs / 2, 50));
      this.loop = this.readLoop();
    })();
    await this.starting;
  }

  /** Stops reading, lets in-flight handlers finish; unfinished entries stay pending for a later claim. */
  stop(): Promise<void> {
    if (!this.running) return this.stopping ?? Promise.resolve();
    this.running = false;
    this.stopping = (async () => {
      await this.starting?.catch(() => {});
      this.options.blockingRedis.off('close', this.forgetReaderId);
      if (this.claimTimer) clearInterval(this.claimTimer);
      for (const timer of this.retryTimers) clearTimeout(timer);
      this.retryTimers.clear();
      this.outage.clear();
      this.counted.clear();
      this.resumeReader?.();
      this.endLinger?.();
      // Interrupts a blocked XREADGROUP at once instead of waiting out BLOCK.
      this.options.blockingRedis.disconnect();
      await this.loop;
      await this.claiming;
      await Promise.allSettled([...this.inFlight]);
    })();
    return this.stopping;
  }

  private key(stream: string): string {
    return streamKey(this.options.prefix, stream);
  }

  private async ensureGroups(): Promise<void> {
    for (const stream of this.streams) {
      try {
        // From id 0: a group created after events were published still sees them.
        await this.options.redis.xgroup('CREATE', this.key(stream), this.options.group, '0', 'MKSTREAM');
      } catch (error) {
        if (!String(error).includes('BUSYGROUP')) throw error;
      }
    }
  }

  /** Reads whenever it has room: a slow handler holds one slot, not the whole consumer. */
  private async readLoop(): Promise<void> {
    const { blockingRedis, group, transactionPerBatch } = this.options;
    const keys = this.streams.map((stream) => this.key(stream));
    const unread = keys.map(() => '>');
    const batchesInFlight = Math.min(BATCHES_IN_FLIGHT, this.transactions.size);
    const capacity =
      this.options.inFlight ?? (transactionPerBatch ? this.batchSize * batchesInFlight : this.batchSize);
    let reading = 0;
    let wakeReader: (() => void) | null = null;
    // Entries of types this group skips, acknowledged with the next read (one round trip for both).
    let skipped: Entry[] = [];
    const release = (count: number) => () => {
      reading -= count;
      wakeReader?.();
      wakeReader = null;
    };
    while (this.running) {
      if (this.outage.size > 0) {
        // A dependency is down: the entries in retry probe it; new ones would only pile up behind them.
        await new Promise<void>((resolve) => (this.resumeReader = resolve));
        continue;
      }
      if (reading >= capacity) {
        await new Promise<void>((resolve) => (wakeReader = resolve));
        continue;
      }
      if (this.readerId === null) {
        // Known before each read that may block, so that an outage can cut it short (CLIENT UNBLOCK).
        this.readerId = await blockingRedis.client('ID').catch(() => null);
      }
      const count = Math.min(this.batchSize, capacity - reading);
      const args = ['COUNT', count, 'BLOCK', this.blockMs, 'STREAMS', ...keys, ...unread];
      let reply: ReadReply;
      const acks = skipped;
      skipped = [];
      try {
        reply = await this.read(args, acks);
      } catch (error) {
        // Acknowledged with the next read, if they were not now (an XACK twice is harmless).
        skipped = acks;
        if (!this.running) break;
        logger.warn('stream read failed; retrying', { group, ...errorFields(error) });
        // A Redis that restarted empty has lost its groups: create them again.
        if (String(error).includes('NOGROUP')) await this.ensureGroups().catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      if (!reply) continue;
      // COUNT applies per stream: a read of several streams can return more than asked for.
      const read = reply.flatMap(([key, raw]) => this.toEntries(key, raw));
      // Types this group has no handler for are acknowledged together, unparsed, with the next read.
      const entries = read.filter((entry) => !this.skips(entry));
      if (entries.length < read.length) skipped = read.filter((entry) => this.skips(entry));
      reading += entries.length;
      if (transactionPerBatch && entries.length > 1) {
        void this.processBatch(entries).finally(release(entries.length));
      } else {
        for (const entry of entries) void this.process(entry, 1).finally(release(1));
      }
      // A full read means a backlog: read on at once. Otherwise let the next entries gather.
      if (this.lingerMs > 0 && read.length < count) await this.linger();
    }
    if (skipped.length > 0) await this.ackSkipped(skipped);
  }

  /**
   * One XREADGROUP on the blocking connection, after the XACK of entries skipped by the read before
   * in the same round trip. A failed XACK leaves them pending: a claim acknowledges them later.
   */
  private async read(args: (string | number)[], acks: Entry[]): Promise<ReadReply> {
    const { blockingRedis, group, consumer } = this.options;
    if (acks.length === 0)
      return (await blockingRedis.call('XREADGROUP', 'GROUP', group, consumer, ...args)) as ReadReply;
    const pipeline = blockingRedis.pipeline();
    this.ackIn(pipeline, acks);
    pipeline.call('XREADGROUP', 'GROUP', group, consumer, ...args);
    const results = (await pipeline.exec()) ?? [];
    const [readError, reply] = results.at(-1) ?? [new Error('no reply to the read')];
    const ackError = results.slice(0, -1).find(([error]) => error)?.[0];
    if (ackError)
      logger.warn('ack of skipped entries failed; a claim will ack them', {
        group,
        ...errorFields(ackError),
      });
    if (readError) throw readError;
    return reply as ReadReply;
  }

  private linger(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.endLinger?.(), this.lingerMs);
      this.endLinger = () => {
        clearTimeout(timer);
        this.endLinger = null;
        resolve();
      };
    });
  }

  /** Entries of a reply; a claim of an entry deleted meanwhile has null fields (Redis < 7 only). */
  private toEntries(key: string, raw: RawEntry[]): Entry[] {
    const stream = key.slice(this.key('').length);
    return raw.flatMap(([id, fields]) => (fields ? [{ stream, id, fields }] : []));
  }

  private track(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    return work.finally(() => this.inFlight.delete(work));
  }

  /** Handles one delivery; never rejects: whatever fails leaves the entry pending for a later claim. */
  private process(entry: Entry, deliveries: number, transientAttempt = 0): Promise<void> {
    const owner = ownerOf(entry);
    this.owned.add(owner);
    return this.track(
      this.handle(entry, deliveries)
        .then((outcome) => this.settle(entry, outcome, deliveries, transientAttempt))
        .catch((error) => {
          this.owned.delete(owner);
          this.endOutage();
          logger.error('handling failed; the entry stays pending', {
            group: this.options.group,
            entryId: entry.id,
            ...errorFields(error),
          });
        }),
    );
  }

  private settle(entry: Entry, outcome: Outcome, deliveries: number, transientAttempt = 0): void {
    const owner = ownerOf(entry);
    if (outcome === 'transient' && this.running) {
      // A blocking read sent before the outage began would still hand this consumer new entries.
      if (this.outage.size === 0) this.unblockReader();
      this.outage.add(owner);
      this.scheduleTransientRetry(entry, deliveries, transientAttempt + 1);
      return;
    }
    // Any outcome but a transient failure means the dependency answered: the reader may go on.
    this.endOutage();
    if (outcome === 'retry' && this.running) this.scheduleRetry(entry, deliveries);
    else this.owned.delete(owner);
  }

  /** Ends a blocking read in progress as if it had timed out (it then reads nothing until the outage ends). */
  private unblockReader(): void {
    if (this.readerId === null) return;
    void this.options.redis.call('CLIENT', 'UNBLOCK', this.readerId).catch(() => {});
  }

  private endOutage(): void {
    this.outage.clear();
    this.resumeReader?.();
    this.resumeReader = null;
  }

  /**
   * transactionPerBatch: the events of one read in one transaction. Any failure rolls it all back and
   * each entry is handled again on its own, where a failing one is retried and dead-lettered.
   */
  private processBatch(entries: Entry[]): Promise<void> {
    const deliveries: Delivery[] = [];
    const others: Entry[] = [];
    for (const entry of entries) {
      const prepared = this.prepare(entry);
      // A handler with an outside step runs on its own: the batch's transaction must not wait on it.
      if ('event' in prepared && !prepared.external) deliveries.push(prepared);
      else others.push(entry);
    }
    for (const { entry } of deliveries) this.owned.add(ownerOf(entry));
    const batch = async () => {
      if (deliveries.length === 0) return;
      const started = Date.now();
      let applied: Applied;
      try {
        applied = await this.applyOnce(deliveries);
      } catch (error) {
        logger.warn('batch failed; handling its entries one by one', {
          group: this.options.group,
          ...errorFields(error),
        });
        await Promise.all(deliveries.map(({ entry }) => this.process(entry, 1)));
        return;
      }
      const unacked = await this.acknowledge(deliveries, applied, started);
      for (const { entry } of deliveries) this.settle(entry, unacked.has(entry) ? 'retry' : 'done', 1);
    };
    return Promise.all([
      this.track(
        batch().catch((error) => {
          for (const { entry } of deliveries) this.owned.delete(ownerOf(entry));
          logger.error('batch failed; its entries stay pending', {
            group: this.options.group,
            ...errorFields(error),
          });
        }),
      ),
      ...others.map((entry) => this.process(entry, 1)),
    ]).then(() => {});
  }

  /**
   * Entries this consumer name read before a restart and never acknowledged, a batch at a time: a long
   * pending list is worked through at the pace of the handlers, not claimed and started all at once.
   */
  private async recoverOwnPending(): Promise<void> {
    const { redis, group, consumer } = this.options;
    for (const stream of this.streams) {
      let start = '-';
      for (;;) {
        const key = this.key(stream);
        const pending = (await redis.xpending(
          key,
          group,
          start,
          '+',
          this.batchSize,
          consumer,
        )) as PendingRow[];
        const last = pending[pending.length - 1];
        if (!last) break;
        const ids = pending.map(([id]) => id);
        await this.claimAndHandle(stream, ids, 0);
        start = `(${last[0]}`;
        if (!this.running) return;
      }
    }
  }

  /** One claim round at a time: a slow round must not pile up behind the timer. */
  private claimInBackground(): void {
    if (this.claiming || !this.running) return;
    this.claiming = this.claimStale().finally(() => {
      this.claiming = null;
    });
  }

  /** XAUTOCLAIM entries idle past claimIdleMs (their consumer died), and forget consumers that are gone. */
  private async claimStale(): Promise<void> {
    const { redis, group, consumer } = this.options;
    try {
      for (const stream of this.streams) {
        let cursor = '0-0';
        do {
          // Redis 7 replies [next cursor, claimed entries, ids deleted from the stream (and so from the PEL)].
          const args = [this.key(stream), group, consumer, this.claimIdleMs, cursor, 'COUNT', this.batchSize];
          const [next, raw] = (await redis.call('XAUTOCLAIM', ...args)) as [string, RawEntry[], string[]?];
          cursor = next;
          await this.handleClaimed(stream, raw);
        } while (cursor !== '0-0' && this.running);
        if (this.running) await this.forgetIdleConsumers(stream);
      }
    } catch (error) {
      if (this.running) logger.warn('claiming stale entries failed', { group, ...errorFields(error) });
    }
  }

  private async forgetIdleConsumers(stream: string): Promise<void> {
    const { redis, group, consumer } = this.options;
    const consumers = (await redis.call('XINFO', 'CONSUMERS', this.key(stream), group)) as (
      string | number
    )[][];
    for (const fields of consumers) {
      const info = Object.fromEntries(pairs(fields));
      if (info.name !== consumer && Number(info.pending) === 0 && Number(info.idle) > this.claimIdleMs * 20) {
        await redis.eval(DELETE_CONSUMER_IF_IDLE, 1, this.key(stream), group, String(info.name));
      }
    }
  }

  /** XCLAIM to this consumer (counts one more delivery) and handle what is still pending. */
  private async claimAndHandle(stream: string, ids: string[], minIdleMs: number): Promise<void> {
    const { redis, group, consumer } = this.options;
    const key = this.key(stream);
    const raw = (await redis.call('XCLAIM', key, group, consumer, minIdleMs, ...ids)) as RawEntry[];
    await this.handleClaimed(stream, raw);
  }

  private async handleClaimed(stream: string, raw: RawEntry[]): Promise<void> {
    const { redis, group } = this.options;
    const deleted = raw.filter(([, fields]) => !fields).map(([id]) => id);
    if (deleted.length > 0) await redis.xack(this.key(stream), group, ...deleted);
    const entries = this.toEntries(this.key(stream), raw).filter((entry) => !this.owned.has(ownerOf(entry)));
    if (entries.length === 0) return;
    const ids = entries.map((entry) => entry.id);
    const counts = await this.deliveryCounts(stream, ids);
    // An entry missing from the PEL was acknowledged meanwhile: nothing left to do.
    await Promise.all(
      entries.flatMap((entry) => {
        const deliveries = counts.get(entry.id);
        return deliveries === undefined ? [] : [this.process(entry, deliveries)];
      }),
    );
  }

  /** Redis's own delivery counters, one exact XPENDING per id (a range could hold other consumers' entries). */
  private async deliveryCounts(stream: string, ids: string[]): Promise<Map<string, number>> {
    const { redis, group } = this.options;
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.xpending(this.key(stream), group, id, id, 1);
    const results = (await pipeline.exec()) ?? [];
    const counts = new Map<string, number>();
    for (const [error, rows] of results) {
      if (error) throw error;
      for (const [id, , , deliveries] of rows as PendingRow[]) counts.set(id, deliveries);
    }
    return counts;
  }

  /** Whether the entry's type is one this group has no handler for (known without parsing the event). */
  private skips(entry: Entry): boolean {
    const type = fieldOf(entry.fields, 'type');
    return type !== undefined && type !== '' && !Object.hasOwn(this.options.handlers, type);
  }

  /** One XACK per stream; a failed ack only means a later claim acks them again. */
  private async ackSkipped(entries: Entry[]): Promise<void> {
    try {
      await this.ack(entries);
    } catch (error) {
      logger.warn('ack of skipped entries failed; a claim will ack them', {
        group: this.options.group,
        ...errorFields(error),
      });
    }
  }

  /** What an entry is: a type this group skips, a message that cannot be read, or an event it handles. */
  private prepare(entry: Entry): Delivery | { skip: true } | { invalid: unknown; raw: unknown } {
    const { handlers } = this.options;
    // A type without a handler is skipped unparsed: cheaper, and a version it cannot read is not its concern.
    if (this.skips(entry)) return { skip: true };
    const fields = Object.fromEntries(pairs(entry.fields));
    let event: Event;
    try {
      event = parseEvent(JSON.parse(String(fields.event)));
    } catch (error) {
      return { invalid: error, raw: fields.event };
    }
    const handler = handlers[event.type] as Handler<EventType> | TwoStepHandler<EventType> | undefined;
    if (!handler) return { skip: true };
    if (typeof handler === 'function')
      return {
        entry,
        event,
        handler: { outside: noOutside, inside: handler },
        external: false,
        raw: fields.event,
        ...('statement' in handler ? { statement: (handler as StatementHandler<EventType>).statement } : {}),
      };
    return { entry, event, handler, external: true, raw: fields.event };
  }

  private async handle(entry: Entry, deliveries: number): Promise<Outcome> {
    const prepared = this.prepare(entry);
    if ('skip' in prepared) {
      await this.ack([entry]);
      return 'done';
    }
    if ('invalid' in prepared) {
      // A malformed message fails the same way on every delivery: dead-letter it at once.
      await this.deadLetter(entry, null, prepared.raw, deliveries, prepared.invalid);
      return 'done';
    }
    return runWithContext(contextOf(prepared.event), () => this.handleEvent(prepared, deliveries));
  }

  /**
   * Redis counts every claim of an entry, also those by a consumer that died before it reached the
   * handler (restarts in a crash loop of the host, a kill during start-up). What counts towards
   * dead-lettering is how often the handler itself was started: from the second delivery on, that is
   * recorded in PostgreSQL before the handler runs (so a handler that kills its process counts too).
   * A retry for an outage reuses the count of the attempt it repeats.
   */
  private async attemptsOf(delivery: Delivery, deliveries: number): Promise<number> {
    const owner = ownerOf(delivery.entry);
    const counted = this.counted.get(owner);
    if (counted !== undefined) return counted;
    if (deliveries <= 1) return 1;
    const row = await this.transactions.run(() =>
      this.options.db
        .insertInto('bus.attempts')
        .values({ consumer_group: this.options.group, event_id: delivery.event.eventId, attempts: 2 })
        .onConflict((conflict) =>
          conflict.columns(['consumer_group', 'event_id']).doUpdateSet({
            attempts: sql<number>`bus.attempts.attempts + 1`,
            updated_at: sql<Date>`now()`,
          }),
        )
        .returning('attempts')
        .executeTakeFirstOrThrow(),
    );
    return row.attempts;
  }

  private async handleEvent(delivery: Delivery, deliveries: number): Promise<Outcome> {
    const owner = ownerOf(delivery.entry);
    const attempts = await this.attemptsOf(delivery, deliveries);
    const outcome = await this.attempt(delivery, attempts);
    if (outcome === 'transient') this.counted.set(owner, attempts);
    else this.counted.delete(owner);
    return outcome;
  }

  private async attempt(delivery: Delivery, deliveries: number): Promise<Outcome> {
    const { group, hooks } = this.options;
    const { entry, event, raw } = delivery;
    if (deliveries > this.maxUnfinishedDeliveries) {
      // Its ack was lost after the commit: nothing to dead-letter.
      if (await this.inInbox(event)) {
        await this.ack([entry]);
        return 'done';
      }
      // Delivered too often without an outcome (e.g. it crashed its consumer each time).
      await this.deadLetter(entry, event, raw, deliveries, new Error('too many deliveries'));
      return 'done';
    }
    const started = Date.now();
    let applied: Applied;
    try {
      let prepared: unknown;
      if (delivery.external) {
        // A redelivery is often of an event handled already (its ack was lost): asking the inbox saves
        // the outside call. A first delivery is almost never a copy, and a copy's outside is harmless.
        if (deliveries > 1 && (await this.inInbox(event))) return this.settleDuplicate(delivery, started);
        prepared = await delivery.handler.outside(event, this.options.db);
      }
      applied = await this.applyOnce([delivery], prepared);
    } catch (error) {
      if (isTransient(error)) {
        hooks?.retried?.({ group, type: event.type, deliveries, error });
        logger.warn('a dependency is unavailable; will retry while it lasts', {
          group,
          type: event.type,
          ...errorFields(error),
        });
        return 'transient';
      }
      if (deliveries >= this.maxDeliveries) {
        await this.deadLetter(entry, event, raw, deliveries, error);
        return 'done';
      }
      hooks?.retried?.({ group, type: event.type, deliveries, error });
      logger.warn('event handler failed; will retry', {
        group,
        type: event.type,
        deliveries,
        ...errorFields(error),
      });
      return 'retry';
    }
    const unacked = await this.acknowledge([delivery], applied, started);
    return unacked.size > 0 ? 'retry' : 'done';
  }

  /** An event handled before (found in the inbox): publish again what it emitted, then ack. */
  private async settleDuplicate(delivery: Delivery, started: number): Promise<Outcome> {
    await this.transactions.run(() =>
      republishCausedBy(this.options.db, this.options.group, delivery.event.eventId),
    );
    this.options.onEmitted?.();
    const unacked = await this.acknowledge([delivery], { ran: new Set(), outgoing: [] }, started);
    return unacked.size > 0 ? 'retry' : 'done';
  }

  /**
   * Inbox rows, effects and outgoing events in one transaction: a redelivered event has no second effect.
   * Returns the deliveries whose handler ran (the others were duplicates).
   */
  private async applyOnce(deliveries: Delivery[], prepared?: unknown): Promise<Applied> {
    const inside = deliveries.length === 1 ? deliveries[0]!.handler.statement : undefined;
    if (inside) return this.applyInOneStatement(deliveries, ([event]) => inside(event!, prepared));
    const statement = deliveries[0]?.statement;
    if (statement && deliveries.every((delivery) => delivery.statement === statement))
      return this.applyInOneStatement(deliveries, statement);
    const { db, group } = this.options;
    const ids = [...new Set(deliveries.map(({ event }) => event.eventId))];
    // BEGIN goes with the inbox rows and COMMIT with the outbox rows: two round trips fewer.
    const transaction = () =>
      transactionWithEdges(db, async (trx, edges) => {
        // A concurrent delivery of the same event waits here on the key until this one commits or rolls back.
        const inserted = await edges.begin(inboxInsert(group, ids));
        const insertedIds = new Set(inserted.map((row) => row.event_id));
        const fresh = new Set(insertedIds);
        const ran = new Set<Delivery>();
        let republished = 0;
        const outgoing: Event[] = [];
        for (const delivery of deliveries) {
          const { event, handler } = delivery;
          // An event twice in one batch runs once.
          if (!fresh.delete(event.eventId)) {
            // Handled before: what it emitted may be lost downstream (a re-drive asks again), so publish it again.
            if (!insertedIds.has(event.eventId))
              republished += await republishCausedBy(trx, group, event.eventId);
            continue;
          }
          ran.add(delivery);
          const emit: HandlerContext['emit'] = (type, data) => {
            const next = followUp(event, type, data);
            outgoing.push(next as Event);
            return next;
          };
          await runWithContext(contextOf(event), () => handler.inside(event, { trx, emit }, prepared));
        }
        await edges.commit(outgoing.length > 0 ? outboxInsert(outgoing, group) : undefined);
        return { ran, outgoing, republished };
      });
    const { ran, outgoing, republished } = await this.transactions.run(transaction);
    const { publish, onEmitted } = this.options;
    if (republished > 0 || (!publish && outgoing.length > 0)) onEmitted?.();
    return { ran, outgoing };
  }

  /**
   * The inbox rows and a statement handler's effect as one statement, no transaction around it. A
   * duplicate needs nothing republished: such a handler emits nothing.
   */
  private async applyInOneStatement(
    deliveries: Delivery[],
    statement: StatementHandler<EventType>['statement'],
  ): Promise<Applied> {
    const { db, group } = this.options;
    // An event twice in one batch runs once.
    const byId = new Map(deliveries.map((delivery) => [delivery.event.eventId, delivery]));
    const events = [...byId.values()].map(({ event }) => event);
    const { rows } = await this.transactions.run(() =>
      sql<{ event_id: string }>`
        WITH fresh AS (
          INSERT INTO bus.inbox (consumer_group, event_id)
          SELECT ${group}, unnest(${[...byId.keys()]}::uuid[])
          ON CONFLICT DO NOTHING
          RETURNING event_id
        ), effect AS (${statement(events)})
        SELECT event_id FROM fresh`.execute(db),
    );
    return { ran: new Set(rows.flatMap((row) => byId.get(row.event_id) ?? [])), outgoing: [] };
  }

  /**
   * After the commit: the beforeAck hook, then one XACK, sent with the events the commit emitted (one
   * round trip). A failure here only delays the ack, and the redelivery is absorbed by the inbox.
   * Returns the entries left unacknowledged.
   */
  private async acknowledge(deliveries: Delivery[], applied: Applied, started: number): Promise<Set<Entry>> {
    const { group, hooks, publish } = this.options;
    const unacked = new Set<Entry>();
    const ready: Delivery[] = [];
    for (const delivery of deliveries) {
      try {
        await hooks?.beforeAck?.({ group, eventId: delivery.event.eventId });
        ready.push(delivery);
      } catch (error) {
        unacked.add(delivery.entry);
        logger.warn('ack failed after commit; will redeliver', { group, ...errorFields(error) });
      }
    }
    const entries = ready.map(({ entry }) => entry);
    try {
      if (publish && applied.outgoing.length > 0)
        await publish(applied.outgoing, (pipeline) => this.ackIn(pipeline, entries));
      else await this.ack(entries);
    } catch (error) {
      for (const entry of entries) unacked.add(entry);
      logger.warn('ack failed after commit; will redeliver', { group, ...errorFields(error) });
      return unacked;
    }
    for (const delivery of ready) {
      const { event } = delivery;
      const duplicate = !applied.ran.has(delivery);
      hooks?.handled?.({ group, type: event.type, durationMs: Date.now() - started, duplicate });
      if (logger.isDebugEnabled()) logger.debug('event handled', { group, type: event.type, duplicate });
    }
    return unacked;
  }

  private async inInbox(event: Event): Promise<boolean> {
    const row = await this.transactions.run(() =>
      this.options.db
        .selectFrom('bus.inbox')
        .select('event_id')
        .where('consumer_group', '=', this.options.group)
        .where('event_id', '=', event.eventId)
        .executeTakeFirst(),
    );
    return row !== undefined;
  }

  /** Keeps the entry owned while it waits, then claims it back unless another consumer took it meanwhile. */
  private scheduleRetry(entry: Entry, deliveries: number): void {
    const delay = this.backoffMs(deliveries);
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.owned.delete(ownerOf(entry));
      // min-idle = delay: an entry another consumer claimed meanwhile is not taken back.
      void this.track(
        this.claimAndHandle(entry.stream, [entry.id], Math.max(delay - 5, 0)).catch((error) => {
          logger.warn('retry claim failed; the entry stays pending', {
            group: this.options.group,
            ...errorFields(error),
          });
        }),
      );
    }, delay);
    this.retryTimers.add(timer);
  }

  /**
   * Retries an entry whose dependency was down, without counting a delivery: XCLAIM JUSTID keeps it
   * ours (its idle time restarts, so no other consumer claims it) and leaves its delivery counter alone.
   */
  private scheduleTransientRetry(entry: Entry, deliveries: number, attempt: number): void {
    const owner = ownerOf(entry);
    const delay = Math.min(transientBackoff(attempt), this.claimIdleMs / 2);
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      const { redis, group, consumer } = this.options;
      const retry = async () => {
        let ours: string[];
        try {
          const args = [this.key(entry.stream), group, consumer, Math.max(delay - 5, 0), entry.id, 'JUSTID'];
          ours = (await redis.call('XCLAIM', ...args)) as string[];
        } catch (error) {
          // Redis is down too: keep the entry and try again later.
          if (this.running) this.scheduleTransientRetry(entry, deliveries, attempt + 1);
          logger.warn('retry claim failed; will try again', { group, ...errorFields(error) });
          return;
        }
        if (ours.length === 0) {
          // Acknowledged, claimed by another consumer or trimmed meanwhile: no longer ours to retry.
          this.owned.delete(owner);
          this.counted.delete(owner);
          this.outage.delete(owner);
          if (this.outage.size === 0) this.endOutage();
          return;
        }
        this.owned.delete(owner);
        await this.process(entry, deliveries, attempt);
      };
      void this.track(retry());
    }, delay);
    this.retryTimers.add(timer);
  }

  /** One XACK per stream for all the entries. */
  private async ack(entries: Entry[]): Promise<void> {
    for (const [stream, ids] of this.byStream(entries))
      await this.options.redis.xack(this.key(stream), this.options.group, ...ids);
  }

  /** The same XACKs, added to a pipeline. */
  private ackIn(pipeline: ChainableCommander, entries: Entry[]): void {
    for (const [stream, ids] of this.byStream(entries))
      pipeline.xack(this.key(stream), this.options.group, ...ids);
  }

  private byStream(entries: Entry[]): Map<string, string[]> {
    const byStream = new Map<string, string[]>();
    for (const { stream, id } of entries) byStream.set(stream, [...(byStream.get(stream) ?? []), id]);
    return byStream;
  }

  private async deadLetter(
    entry: Entry,
    event: Event | null,
    raw: unknown,
    deliveries: number,
    error: unknown,
  ): Promise<void> {
    const { db, redis, group, hooks } = this.options;
    const message = error instanceof Error ? error.message : String(error);
    let payload: unknown = raw ?? null;
    if (typeof raw === 'string') {
      try {
        payload = JSON.parse(raw);
      } catch {
        payload = { unparsable: raw };
      }
    }
    // Idempotent on the entry: a crash before the ack dead-letters it again without a second row.
    await db
      .insertInto('bus.dead_letters')
      .values({
        stream: entry.stream,
        entry_id: entry.id,
        consumer_group: group,
        event_id: event?.eventId ?? null,
        type: event?.type ?? null,
        payload: JSON.stringify(payload),
        error: message.slice(0, 4000),
        deliveries,
      })
      .onConflict((conflict) => conflict.columns(['stream', 'consumer_group', 'entry_id']).doNothing())
      .execute();
    // A notice for whoever watches the stream; the row above is the record.
    const excerpt = message.slice(0, 500);
    const notice = ['group', group, 'stream', entry.stream, 'entry', entry.id, 'error', excerpt];
    await redis.xadd(this.key(DEAD_LETTER_STREAM), 'MAXLEN', '~', 10_000, '*', ...notice);
    await this.ack([entry]);
    hooks?.deadLettered?.({ group, type: event?.type ?? null, deliveries, error: message });
    logger.error('event dead-lettered', {
      group,
      stream: entry.stream,
      entryId: entry.id,
      type: event?.type,
      deliveries,
      error: message,
    });
  }
}

/** A group's inbox rows for events, compiled already (the first statement of every handler's transaction). */
const inboxInsert = (group: string, eventIds: string[]) =>
  CompiledQuery.raw(
    `INSERT INTO bus.inbox (consumer_group, event_id) VALUES ${valuesList(eventIds.length, 2)}
     ON CONFLICT DO NOTHING RETURNING event_id`,
    eventIds.flatMap((eventId) => [group, eventId]),
  ) as CompiledQuery<{ event_id: string }>;

const noOutside = async () => undefined;

const ownerOf = (entry: Entry) => `${entry.stream} ${entry.id}`;

const contextOf = (event: Event) => ({
  correlationId: event.correlationId,
  bookingId: event.bookingId,
  eventId: event.eventId,
});

function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function pairs(fields: (string | number)[]): [string, string | number][] {
  const result: [string, string | number][] = [];
  for (let i = 0; i + 1 < fields.length; i += 2)
    result.push([String(fields[i]), fields[i + 1] as string | number]);
  return result;
}
