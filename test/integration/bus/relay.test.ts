import { Writable } from 'node:stream';
import { expect } from 'chai';
import { sql } from 'kysely';
import winston from 'winston';
import { appendToOutbox, notifyOutbox, OUTBOX_CHANNEL } from '../../../lib/bus/outbox.js';
import { createRedis } from '../../../lib/bus/redis.js';
import type { Event } from '../../../lib/events/catalogue.js';
import { logger } from '../../../lib/logger.js';
import { BusTestBed, configEvents, effectHandler } from '../../support/bus-harness.js';
import { waitFor } from '../../support/wait.js';

describe('bus outbox relay', function () {
  let bed: BusTestBed;
  before(async () => {
    bed = await BusTestBed.open();
  });
  afterEach(() => bed.stopAll());
  after(() => bed.close());

  async function outboxRows(events: Event[]) {
    return bed.db
      .selectFrom('bus.outbox')
      .select(['id', 'event_id', 'published_at'])
      .where(
        'event_id',
        'in',
        events.map((event) => event.eventId),
      )
      .orderBy('id')
      .execute();
  }

  /** Every event has its outbox row committed, and marked published. */
  const allPublished = async (events: Event[]) => {
    const rows = await outboxRows(events);
    return rows.length === events.length && rows.every((row) => row.published_at !== null);
  };

  /** Stream entries per event id. */
  async function published(prefix: string): Promise<Map<string, number>> {
    const entries = await bed.redis.xrange(bed.key(prefix, 'config'), '-', '+');
    const counts = new Map<string, number>();
    for (const [, fields] of entries) {
      const eventId = (JSON.parse(fields[3]!) as Event).eventId;
      counts.set(eventId, (counts.get(eventId) ?? 0) + 1);
    }
    return counts;
  }

  it('loses nothing when the relay dies between XADD and marking the rows, and the inbox absorbs the copies', async () => {
    const prefix = bed.newPrefix();
    const group = 'after-relay-crash';
    const events = configEvents(20);
    let crashes = 0;
    await bed.consumer({ prefix, group, handlers: { ConfigChanged: effectHandler('c1') } });
    await bed.relay({
      prefix,
      pollMs: 50,
      hooks: {
        afterPublish: () => {
          if (crashes < 2) {
            crashes += 1;
            throw new Error('relay died after XADD');
          }
        },
      },
    });

    await bed.writeToOutbox(events);

    await waitFor(() => allPublished(events), { message: 'the rows marked published' });
    await waitFor(
      async () =>
        (await bed.pending(prefix, 'config', group)) === 0 &&
        (await bed.groupInfo(prefix, 'config', group)).lag === 0,
      {
        message: 'every entry acked',
      },
    );
    expect(crashes).to.equal(2);
    const copies = await published(prefix);
    expect([...copies.values()]).to.deep.equal(events.map(() => 3));
    const effects = await bed.effects(events[0]!.correlationId);
    expect(effects.map((effect) => effect.eventId).sort()).to.deep.equal(
      events.map((event) => event.eventId).sort(),
    );
  });

  it('publishes a row whose transaction commits after a later id committed', async () => {
    const prefix = bed.newPrefix();
    // Polling slower than the test: the late row must come through on the notification after its commit.
    await bed.relay({ prefix, pollMs: 60_000 });
    const [early, late] = configEvents(2);
    let commitEarly!: () => void;
    const held = new Promise<void>((resolve) => (commitEarly = resolve));
    let written!: () => void;
    const writtenEarly = new Promise<void>((resolve) => (written = resolve));

    const transactionA = bed.db.transaction().execute(async (trx) => {
      await appendToOutbox(trx, [early!]);
      written();
      await held;
    });
    try {
      await writtenEarly;
      await bed.writeToOutbox([late!]);
      await waitFor(() => allPublished([late!]), { message: 'the later row published' });
      expect(await published(prefix)).to.deep.equal(new Map([[late!.eventId, 1]]));
    } finally {
      commitEarly();
      await transactionA;
    }
    await notifyOutbox(bed.db);

    await waitFor(() => allPublished([early!]), { message: 'the earlier row published after its commit' });
    const [rowA, rowB] = await outboxRows([early!, late!]);
    expect(rowA!.event_id).to.equal(early!.eventId);
    expect(rowA!.id).to.be.below(rowB!.id);
    expect(await published(prefix)).to.deep.equal(
      new Map([
        [late!.eventId, 1],
        [early!.eventId, 1],
      ]),
    );
  });

  it('publishes each row exactly once with two relays draining at once', async function () {
    this.timeout(30_000);
    const prefix = bed.newPrefix();
    const events = configEvents(2_000);
    for (let i = 0; i < events.length; i += 500) await bed.writeToOutbox(events.slice(i, i + 500));
    const batches = [0, 0];
    // A short pause per batch keeps both relays busy at the same time.
    const relayHooks = (index: number) => ({
      published: () => {
        batches[index] = batches[index]! + 1;
      },
      afterPublish: () => new Promise<void>((resolve) => setTimeout(resolve, 2)),
    });

    await Promise.all([0, 1].map((index) => bed.relay({ prefix, batchSize: 50, hooks: relayHooks(index) })));

    await waitFor(() => allPublished(events), { timeoutMs: 20_000, message: 'every row published' });
    const copies = await published(prefix);
    expect(copies.size).to.equal(events.length);
    expect([...copies.values()].every((count) => count === 1)).to.equal(true);
    expect(await bed.redis.xlen(bed.key(prefix, 'config'))).to.equal(events.length);
    expect(batches[0]).to.be.above(0);
    expect(batches[1]).to.be.above(0);
  });

  it('has a consumer publish what it emits right after its commit, with its ack, and mark it, without the relays', async () => {
    const prefix = bed.newPrefix();
    const events = configEvents(10);
    // No poll within the test and no kick: only publishCommitted can send the emitted events.
    const relay = await bed.relay({ prefix, pollMs: 60_000, directGraceMs: 60_000 });
    // Another process's relay (the web's), polling all along: it must leave those rows alone.
    await bed.relay({ prefix, pollMs: 10, directGraceMs: 60_000 });
    const emitted: Event[] = [];
    let copies = 0;
    await bed.consumer({
      prefix,
      group: 'direct-publisher',
      hooks: { handled: ({ duplicate }) => void (copies += duplicate ? 1 : 0) },
      publish: (batch, alsoSend) => relay.publishCommitted(batch, alsoSend),
      handlers: {
        ConfigChanged: async (_event, { emit }) => {
          emitted.push(emit('DiscountQuotaReleased', { day: '2026-12-01' }));
        },
      },
    });
    const pending = async () =>
      ((await bed.redis.xpending(bed.key(prefix, 'config'), 'direct-publisher')) as [number])[0];
    await bed.publish(prefix, 'config', ...events);

    await waitFor(async () => emitted.length === 10 && (await allPublished(emitted)), {
      message: 'the emitted events marked published',
    });
    const entries = await bed.redis.xrange(bed.key(prefix, 'quota'), '-', '+');
    const ids = entries.map(([, fields]) => (JSON.parse(fields[3]!) as Event).eventId);
    // Each once: no relay sent a copy of a row before it was marked.
    expect(ids.sort()).to.deep.equal(emitted.map((event) => event.eventId).sort());
    // The XACKs went in the same pipeline as the events: nothing left pending, nothing delivered twice
    // (an entry left unacknowledged is claimed again after claimIdleMs and settled as a copy).
    await waitFor(async () => (await pending()) === 0, { message: 'the handled entries acknowledged' });
    expect(copies).to.equal(0);
  });

  it('sends the publications of one turn of the event loop in one pipeline, each caller told of its own commands', async () => {
    const prefix = bed.newPrefix();
    const commands = createRedis(bed.redisUrl, 'worker', 'relay-pipelines');
    let pipelines = 0;
    const pipeline = commands.pipeline.bind(commands);
    Object.assign(commands, {
      pipeline: (...args: Parameters<typeof pipeline>) => {
        pipelines += 1;
        return pipeline(...args);
      },
    });
    try {
      const relay = await bed.relay({ prefix, redis: commands, pollMs: 60_000, directGraceMs: 60_000 });
      const events = configEvents(5);
      const key = bed.key(prefix, 'config');
      // Commits of handlers side by side: their publications come in the same turn.
      const settled = await Promise.allSettled([
        relay.publishCommitted([events[0]!]),
        relay.publishCommitted([events[1]!, events[2]!], (p) => p.set(`${prefix}first`, '1')),
        relay.publishCommitted([events[3]!], (p) => p.call('XACK', key)),
        relay.publishCommitted([events[4]!], (p) => p.set(`${prefix}second`, '2')),
      ]);
      expect(pipelines).to.equal(1);
      expect(settled.map((outcome) => outcome.status)).to.deep.equal([
        'fulfilled',
        'fulfilled',
        'rejected',
        'fulfilled',
      ]);
      const entries = await bed.redis.xrange(key, '-', '+');
      expect(entries.map(([, fields]) => (JSON.parse(fields[3]!) as Event).eventId)).to.deep.equal(
        events.map((event) => event.eventId),
      );
      expect(await bed.redis.mget(`${prefix}first`, `${prefix}second`)).to.deep.equal(['1', '2']);
    } finally {
      await bed.stopAll();
      commands.disconnect();
    }
  });

  it("leaves a consumer's rows to its own process for the grace, then publishes them as lost", async () => {
    const prefix = bed.newPrefix();
    const relay = await bed.relay({ prefix, pollMs: 60_000, directGraceMs: 3_000 });
    const [lost] = configEvents(1);
    const [fromWeb] = configEvents(1);
    // A consumer's commit whose process died before its own XADD, and a row of a producer without one.
    await appendToOutbox(bed.db, [lost!], 'pricing');
    await appendToOutbox(bed.db, [fromWeb!]);

    expect(await relay.publishBatch()).to.equal(1);
    expect([...(await published(prefix)).keys()]).to.deep.equal([fromWeb!.eventId]);
    await waitFor(async () => (await relay.publishBatch()) === 1, {
      message: 'the lost row published after the grace',
    });
    expect(Object.fromEntries(await published(prefix))).to.deep.equal({
      [fromWeb!.eventId]: 1,
      [lost!.eventId]: 1,
    });
  });

  /** The warnings logged while `work` runs; the logger's other transports are muted meanwhile. */
  async function warningsDuring(work: (warnings: string[]) => Promise<void>): Promise<string[]> {
    const warnings: string[] = [];
    const capture = new winston.transports.Stream({
      level: 'warn',
      stream: new Writable({
        write(chunk: Buffer, _encoding, done) {
          warnings.push((JSON.parse(chunk.toString()) as { message: string }).message);
          done();
        },
      }),
    });
    const others = logger.transports.map((transport) => [transport, transport.silent] as const);
    const { silent, level } = logger;
    for (const [transport] of others) transport.silent = true;
    logger.silent = false;
    logger.level = 'warn';
    logger.add(capture);
    try {
      await work(warnings);
    } finally {
      logger.remove(capture);
      logger.silent = silent;
      logger.level = level;
      for (const [transport, wasSilent] of others) transport.silent = wasSilent;
    }
    return warnings;
  }

  it('warns when its listener is lost, and not when stop() ends it', async () => {
    const prefix = bed.newPrefix();
    const lost = 'outbox listener lost; polling until it is back';
    const onStop = await warningsDuring(async () => {
      const relay = await bed.relay({ prefix });
      await relay.stop();
    });
    expect(onStop).to.deep.equal([]);

    const onLoss = await warningsDuring(async (warnings) => {
      await bed.relay({ prefix });
      await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND query = ${`LISTEN ${OUTBOX_CHANNEL}`}`.execute(bed.db);
      await waitFor(() => warnings.includes(lost), { message: 'the loss logged' });
    });
    expect(onLoss.filter((message) => message === lost)).to.have.length(1);
  });
});
