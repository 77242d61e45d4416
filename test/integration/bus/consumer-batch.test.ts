import { expect } from 'chai';
import { sql } from 'kysely';
import { inOneStatement } from '../../../lib/bus/consumer.js';
import { listDeadLetters } from '../../../lib/bus/dead-letters.js';
import { createRedis } from '../../../lib/bus/redis.js';
import { BusTestBed, configEvents, effectHandler, recordEffect } from '../../support/bus-harness.js';
import { waitFor } from '../../support/wait.js';

describe('bus consumer: one transaction per read batch (transactionPerBatch)', function () {
  let bed: BusTestBed;
  before(async () => {
    bed = await BusTestBed.open();
  });
  afterEach(() => bed.stopAll());
  after(() => bed.close());

  /** How many transactions wrote the effects of a saga (xmin is the writing transaction). */
  async function transactions(correlationId: string): Promise<number> {
    const { rows } = await sql<{ count: number }>`
      SELECT count(DISTINCT xmin::text)::int AS count FROM bus_test_effects WHERE correlation_id = ${correlationId}`.execute(
      bed.db,
    );
    return rows[0]!.count;
  }

  it('handles the events of one read in one transaction, an event twice in it once', async () => {
    const prefix = bed.newPrefix();
    const group = 'batched';
    const events = configEvents(20);
    const handled: boolean[] = [];
    // Published before the consumer starts: its first read takes them all.
    await bed.publish(prefix, 'config', ...events, events[7]!);

    await bed.consumer({
      prefix,
      group,
      transactionPerBatch: true,
      handlers: { ConfigChanged: effectHandler('batched') },
      hooks: { handled: ({ duplicate }) => handled.push(duplicate) },
    });

    await waitFor(async () => handled.length === 21 && (await bed.pending(prefix, 'config', group)) === 0, {
      message: 'the batch handled and acked',
    });
    expect(handled.filter((duplicate) => duplicate)).to.have.length(1);
    const effects = await bed.effects(events[0]!.correlationId);
    expect(effects.map((effect) => effect.eventId).sort()).to.deep.equal(
      events.map((event) => event.eventId).sort(),
    );
    expect(await transactions(events[0]!.correlationId)).to.equal(1);
  });

  it("sends a statement handler's effect on a read with its inbox rows as one statement, a duplicate left out", async () => {
    const prefix = bed.newPrefix();
    const group = 'statement-handler';
    const events = configEvents(12);
    const calls: number[] = [];
    // One handled before: its inbox row exists, so the statement must leave it out.
    const handledBefore = events[5]!;
    await sql`INSERT INTO bus.inbox (consumer_group, event_id) VALUES (${group}, ${handledBefore.eventId})`.execute(
      bed.db,
    );
    await bed.publish(prefix, 'config', ...events, events[3]!);

    await bed.consumer({
      prefix,
      group,
      transactionPerBatch: true,
      handlers: {
        ConfigChanged: inOneStatement((batch) => {
          calls.push(batch.length);
          return sql`
            INSERT INTO bus_test_effects (correlation_id, event_id, consumer)
            SELECT ${batch[0]!.correlationId}::uuid, event_id, 'statement' FROM fresh`;
        }),
      },
    });

    await waitFor(
      async () =>
        (await bed.effects(events[0]!.correlationId)).length === 11 &&
        (await bed.pending(prefix, 'config', group)) === 0,
      { message: 'the batch handled and acked' },
    );
    // The duplicate within the read is given once; the one handled before reaches the SQL, not `fresh`.
    expect(calls).to.deep.equal([12]);
    const effects = await bed.effects(events[0]!.correlationId);
    expect(effects.map((effect) => effect.eventId).sort()).to.deep.equal(
      events
        .filter((event) => event !== handledBefore)
        .map((event) => event.eventId)
        .sort(),
    );
    expect(await transactions(events[0]!.correlationId)).to.equal(1);
    const inbox = await sql<{ count: number }>`
      SELECT count(*)::int AS count FROM bus.inbox WHERE consumer_group = ${group}`.execute(bed.db);
    expect(inbox.rows[0]!.count).to.equal(12);
  });

  it('lets entries that come in one by one gather for lingerMs after a read without backlog', async () => {
    const prefix = bed.newPrefix();
    const group = 'lingering';
    const [first, ...rest] = configEvents(6);
    const correlationId = first!.correlationId;
    await bed.consumer({
      prefix,
      group,
      transactionPerBatch: true,
      lingerMs: 400,
      handlers: { ConfigChanged: effectHandler('lingering') },
    });
    await bed.publish(prefix, 'config', first!);
    await waitFor(async () => (await bed.effects(correlationId)).length === 1, {
      message: 'the first handled',
    });

    // Each on its own XADD while the consumer lingers: without the linger, each would be read (and committed) alone.
    for (const event of rest) await bed.publish(prefix, 'config', event);
    await waitFor(
      async () =>
        (await bed.effects(correlationId)).length === 6 && (await bed.pending(prefix, 'config', group)) === 0,
      { message: 'the rest handled and acked' },
    );
    expect(await transactions(correlationId)).to.equal(2);
  });

  it('acknowledges entries of types it has no handler for with its next read, not with an XACK of their own', async () => {
    const prefix = bed.newPrefix();
    const group = 'skipping';
    const [event] = configEvents(1);
    // The commands connection, its XACKs counted by the entry ids they carry.
    const commands = createRedis(bed.redisUrl, 'worker', 'skipping-commands');
    const acked: string[] = [];
    const xack = commands.xack.bind(commands) as (...args: (string | number)[]) => Promise<number>;
    Object.assign(commands, {
      xack: (...args: (string | number)[]) => {
        acked.push(...args.slice(2).map(String));
        return xack(...args);
      },
    });
    try {
      await bed.consumer({
        prefix,
        group,
        redis: commands,
        handlers: { ConfigChanged: effectHandler(group) },
      });
      const skippedAlone = { fields: ['type', 'ScheduleChanged', 'event', '{}'] };
      const [alone] = await bed.publish(prefix, 'config', skippedAlone);
      await waitFor(async () => (await bed.pending(prefix, 'config', group)) === 0, {
        message: 'the skipped entry acknowledged',
      });
      const [beside, handled] = await bed.publish(prefix, 'config', skippedAlone, event!);
      await waitFor(
        async () =>
          (await bed.effects(event!.correlationId)).length === 1 &&
          (await bed.pending(prefix, 'config', group)) === 0,
        { message: 'both acknowledged' },
      );
      expect(acked).to.include(handled);
      expect(acked).to.not.include(alone);
      expect(acked).to.not.include(beside);
      expect(await bed.groupInfo(prefix, 'config', group)).to.include({ 'entries-read': 3, pending: 0 });
    } finally {
      await bed.stopAll();
      commands.disconnect();
    }
  });

  it('rolls a batch back when one handler fails, then handles each entry on its own', async () => {
    const prefix = bed.newPrefix();
    const group = 'batch-with-poison';
    const events = configEvents(10);
    const poison = events[4]!;
    await bed.publish(prefix, 'config', ...events);

    await bed.consumer({
      prefix,
      group,
      transactionPerBatch: true,
      maxDeliveries: 2,
      handlers: {
        ConfigChanged: async (event, { trx }) => {
          await recordEffect(trx, event, 'batched');
          if (event.eventId === poison.eventId) throw new Error('poison in the batch');
        },
      },
    });

    const letters = await waitFor(
      async () => {
        const found = (await listDeadLetters(bed.db, { includeReplayed: true })).filter(
          (letter) => letter.consumerGroup === group,
        );
        return found.length > 0 && found;
      },
      { message: 'the poison dead-lettered' },
    );
    expect(letters.map((letter) => [letter.eventId, letter.deliveries, letter.error])).to.deep.equal([
      [poison.eventId, 2, 'poison in the batch'],
    ]);
    await waitFor(async () => (await bed.pending(prefix, 'config', group)) === 0, {
      message: 'nothing pending',
    });
    const effects = await bed.effects(poison.correlationId);
    const healthy = events.filter((event) => event !== poison).map((event) => event.eventId);
    expect(effects.map((effect) => effect.eventId).sort()).to.deep.equal(healthy.sort());
    // The batch's writes were rolled back: each surviving effect comes from its own transaction.
    expect(await transactions(poison.correlationId)).to.equal(9);
  });
});
