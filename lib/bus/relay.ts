import type pg from 'pg';
import { sql } from 'kysely';
import type { ChainableCommander, Redis } from 'ioredis';
import type { Db } from '../db/database.js';
import { listenOn } from '../db/listener.js';
import { errorFields, logger } from '../logger.js';
import { capDeadLetters } from './dead-letters.js';
import { OUTBOX_CHANNEL, pruneInbox } from './outbox.js';
import { streamOf, type Event } from '../events/catalogue.js';
import { entryFields, streamKey } from './redis.js';
import type { BusHooks } from './hooks.js';

/**
 * The participants, and the web for a booking request, publish their own events after their commit
 * (publishCommitted: rows with a producer); every relay of the system takes such rows only when they
 * are older than this: their process died or lost Redis before publishing them.
 */
export const DIRECT_PUBLISH_GRACE_MS = 5_000;

/** How long published events wait to be marked: one UPDATE covers all a busy process sends meanwhile. */
const MARK_DELAY_MS = 200;

export interface RelayOptions {
  db: Db;
  redis: Redis;
  databaseUrl: string;
  prefix: string;
  pollMs?: number;
  batchSize?: number;
  /** Published rows are kept this long for troubleshooting and re-drives, then deleted. */
  keepPublishedMs?: number;
  /** Inbox rows are kept this long, far beyond any redelivery (claims happen within minutes). */
  keepInboxMs?: number;
  /**
   * Rows with a producer (a consumer group, or the web) are published by their own process right after
   * the commit (publishCommitted); a relay leaves them alone this long, then takes them as lost (that
   * process died or lost Redis before its XADD). 0: every row is the relays' at once.
   */
  directGraceMs?: number;
  hooks?: BusHooks;
}

/**
 * Publishes outbox rows to Redis Streams. Rows are locked with SKIP LOCKED, so any number of relays
 * share the work without publishing a row twice; a relay that dies after XADD and before marking the
 * rows leaves them unmarked, and they are published again (consumers absorb duplicates by event id).
 * Unpublished rows are found by `published_at IS NULL`, never `id > last`, which would skip ids that
 * committed late. A relay wakes on a notification (notifyOutbox, after a producer's commit), on kick()
 * after a commit in its own process, and on a poll that covers any notification lost.
 *
 * A producer's own events need no relay round trip: publishCommitted XADDs them right after its
 * commit and marks them published in bulk a moment later. Should the process die in between, the rows
 * are still unmarked: a relay publishes them once directGraceMs has passed, and the copies are absorbed.
 */
export class OutboxRelay {
  private listener: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private relistenTimer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private lastCleanup = 0;
  /** Event ids published by publishCommitted, to be marked by the next markPublished. */
  private unmarked: string[] = [];
  private markTimer: NodeJS.Timeout | null = null;
  private readonly direct = new Set<Promise<void>>();
  /** publishCommitted calls of this turn of the event loop, sent together. */
  private queued: {
    events: readonly Event[];
    alsoSend?: (pipeline: ChainableCommander) => void;
    settled: (error?: unknown) => void;
  }[] = [];
  private readonly pollMs: number;
  private readonly directGraceMs: number;
  private readonly batchSize: number;
  private readonly keepPublishedMs: number;
  private readonly keepInboxMs: number;

  constructor(private readonly options: RelayOptions) {
    this.pollMs = options.pollMs ?? 1_000;
    this.batchSize = options.batchSize ?? 200;
    this.keepPublishedMs = options.keepPublishedMs ?? 24 * 3600_000;
    this.keepInboxMs = options.keepInboxMs ?? 7 * 24 * 3600_000;
    this.directGraceMs = options.directGraceMs ?? 0;
  }

  async start(): Promise<void> {
    // PostgreSQL down or out of connections at start: poll meanwhile, listen once it is back.
    await this.listen().catch((error) => {
      logger.warn('outbox listener not connected; polling until it is', errorFields(error));
      this.scheduleRelisten();
    });
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.kick();
  }

  /** Drain now (after a local commit, a notification or a poll); overlapping kicks coalesce. */
  kick(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = null;
      // A kick that came in after the last batch query (e.g. during cleanup) must not wait for the poll.
      if (this.again) this.kick();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.relistenTimer) clearTimeout(this.relistenTimer);
    await this.draining;
    await Promise.allSettled([...this.direct]);
    if (this.markTimer) clearTimeout(this.markTimer);
    await this.markPublished();
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => {});
  }

  /**
   * Publishes events its process has just committed to the outbox (never before the commit: an event
   * must not go out for a transaction that rolled back). What fails here stays in the outbox for a
   * relay, after directGraceMs. `alsoSend` adds commands to the same pipeline (a consumer's XACK of
   * the entry that caused the events: one round trip for both); the promise settles with those
   * commands alone, and rejects if one of them failed. Without `alsoSend` it never rejects. The calls
   * made in one turn of the event loop (commits of handlers side by side) share one pipeline.
   */
  publishCommitted(
    events: readonly Event[],
    alsoSend?: (pipeline: ChainableCommander) => void,
  ): Promise<void> {
    if (events.length === 0 && !alsoSend) return Promise.resolve();
    const call = { events, alsoSend, settled: null as unknown as (error?: unknown) => void };
    const done = new Promise<void>((resolve, reject) => {
      call.settled = (error) => (error ? reject(error) : resolve());
    });
    this.queued.push(call);
    if (this.queued.length === 1) {
      const work = new Promise<void>((resolve) =>
        setImmediate(() => void this.sendQueued().finally(resolve)),
      );
      this.direct.add(work);
      void work.finally(() => this.direct.delete(work));
    }
    // Without alsoSend nothing can fail for the caller: it learns only that the XADDs went (or not).
    return alsoSend ? done : done.catch(() => {});
  }

  /** One pipeline for every queued publication; each caller settles with its own commands. */
  private async sendQueued(): Promise<void> {
    const calls = this.queued.splice(0);
    const { redis, prefix, hooks } = this.options;
    const pipeline = redis.pipeline();
    const spans = calls.map(({ events, alsoSend }) => {
      const from = pipeline.length;
      for (const event of events)
        pipeline.xadd(streamKey(prefix, streamOf(event.type)), '*', ...entryFields(event));
      const added = pipeline.length;
      alsoSend?.(pipeline);
      return { from, added, to: pipeline.length };
    });
    let results: [Error | null, unknown][];
    try {
      results = (await pipeline.exec()) ?? [];
    } catch (error) {
      logger.warn('publishing after commit failed; a relay will', errorFields(error));
      for (const call of calls) call.settled(error);
      return;
    }
    for (const [index, { events, settled }] of calls.entries()) {
      const { from, added, to } = spans[index]!;
      settled(results.slice(added, to).find(([error]) => error)?.[0] ?? undefined);
      try {
        const failedEvent = results.slice(from, added).find(([error]) => error);
        if (failedEvent) throw failedEvent[0];
        if (events.length === 0) continue;
        const oldest = Math.min(...events.map((event) => Date.parse(event.occurredAt)));
        hooks?.published?.({ count: events.length, lagMs: Date.now() - oldest });
        this.unmarked.push(...events.map((event) => event.eventId));
        this.markTimer ??= setTimeout(() => void this.markPublished(), MARK_DELAY_MS);
      } catch (error) {
        // A failed XADD (or hook) leaves the rows unmarked: a relay publishes them after the grace.
        logger.warn('publishing after commit failed; a relay will', errorFields(error));
      }
    }
  }

  /** One UPDATE for the events published since the last: the relays' fallback no longer takes them. */
  private async markPublished(): Promise<void> {
    this.markTimer = null;
    const ids = this.unmarked;
    if (ids.length === 0) return;
    this.unmarked = [];
    try {
      await this.options.db
        .updateTable('bus.outbox')
        .set({ published_at: sql<Date>`now()` })
        .where('event_id', '=', sql<string>`ANY(${ids}::uuid[])`)
        .where('published_at', 'is', null)
        .execute();
    } catch (error) {
      // Unmarked rows are published again by a relay after the grace: copies, which consumers absorb.
      logger.warn('marking published events failed; a relay will publish them again', errorFields(error));
    }
  }

  /**
   * Publishes one batch; returns how many rows it published. The rows are marked and locked by one
   * UPDATE, published, then committed: should the publication fail (or the process die before the
   * commit), the mark is rolled back and the rows go out again later.
   */
  async publishBatch(): Promise<number> {
    const { db, redis, prefix, hooks } = this.options;
    return db.transaction().execute(async (trx) => {
      const rows = await trx
        .updateTable('bus.outbox')
        .set({ published_at: sql<Date>`now()` })
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('bus.outbox')
            .select('id')
            .where('published_at', 'is', null)
            .$if(this.directGraceMs > 0, (query) =>
              query.where((eb) =>
                eb.or([
                  eb('producer', 'is', null),
                  eb(
                    'created_at',
                    '<',
                    sql<Date>`now() - make_interval(secs => ${this.directGraceMs / 1000})`,
                  ),
                ]),
              ),
            )
            .orderBy('id')
            .limit(this.batchSize)
            .forUpdate()
            .skipLocked(),
        )
        .returning(['id', 'stream', 'payload', 'created_at'])
        .execute();
      if (rows.length === 0) return 0;
      // RETURNING follows no order: the stream gets the rows in the order they were written.
      rows.sort((a, b) => a.id - b.id);

      const pipeline = redis.pipeline();
      for (const row of rows)
        pipeline.xadd(streamKey(prefix, row.stream), '*', ...entryFields(row.payload as { type?: unknown }));
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([error]) => error);
      if (failed) throw failed[0];

      await hooks?.afterPublish?.(rows.length);
      const oldest = Math.min(...rows.map((row) => row.created_at.getTime()));
      hooks?.published?.({ count: rows.length, lagMs: Date.now() - oldest });
      return rows.length;
    });
  }

  private async drain(): Promise<void> {
    try {
      do {
        this.again = false;
        while (!this.stopped && (await this.publishBatch()) === this.batchSize);
      } while (this.again && !this.stopped);
      await this.cleanup();
    } catch (error) {
      // The rows stay unpublished; the next poll retries (not every notification, while Redis or PG is down).
      this.again = false;
      logger.warn('outbox relay failed; will retry', errorFields(error));
    }
  }

  private async cleanup(): Promise<void> {
    if (Date.now() - this.lastCleanup < 60_000) return;
    this.lastCleanup = Date.now();
    const { db } = this.options;
    const before = new Date(Date.now() - this.keepPublishedMs);
    await db.deleteFrom('bus.outbox').where('published_at', '<', before).execute();
    await pruneInbox(db, new Date(Date.now() - this.keepInboxMs));
    await capDeadLetters(db);
  }

  private async listen(): Promise<void> {
    const client = await listenOn(this.options.databaseUrl, OUTBOX_CHANNEL, {
      notification: () => this.kick(),
      lost: (error) => {
        // A listener ended by stop(), or one already replaced, is not a loss.
        if (this.listener !== client) return;
        // Polling keeps the relay going meanwhile; the listener comes back on its own.
        logger.warn('outbox listener lost; polling until it is back', error ? errorFields(error) : {});
        this.listener = null;
        this.scheduleRelisten();
      },
    });
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.listener = client;
  }

  private scheduleRelisten(): void {
    if (this.stopped || this.relistenTimer) return;
    this.relistenTimer = setTimeout(() => {
      this.relistenTimer = null;
      if (this.stopped || this.listener) return;
      this.listen().then(
        // Notifications sent while nobody listened are lost: catch up at once.
        () => this.kick(),
        () => this.scheduleRelisten(),
      );
    }, this.pollMs);
  }
}
