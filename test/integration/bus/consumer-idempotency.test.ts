import { expect } from 'chai';
import { sql } from 'kysely';
import { twoStep, twoStepInOneStatement } from '../../../lib/bus/consumer.js';
import { statementsSent } from '../../../lib/db/database.js';
import { BusTestBed, configEvents, effectHandler, recordEffect } from '../../support/bus-harness.js';
import { waitFor } from '../../support/wait.js';

describe('bus consumer: at-least-once delivery, one effect', function () {
  let bed: BusTestBed;
  before(async () => {
    bed = await BusTestBed.open();
  });
  afterEach(() => bed.stopAll());
  after(() => bed.close());

  it("sends a handler's transaction as BEGIN with its inbox row, its own statement, and its outbox row with COMMIT", async () => {
    const prefix = bed.newPrefix();
    const [event] = configEvents(1);
    const handled: boolean[] = [];
    await bed.consumer({
      prefix,
      group: 'edges',
      handlers: {
        ConfigChanged: async (seen, context) => {
          await recordEffect(context.trx, seen, 'edges');
          context.emit('ConfigChanged', { ...seen.data, configVersion: seen.data.configVersion + 1 });
        },
      },
      hooks: { handled: ({ duplicate }) => handled.push(duplicate) },
    });

    const before = statementsSent();
    await bed.publish(prefix, 'config', event!);
    await waitFor(() => handled.length === 1, { message: 'the entry handled' });
    // Three round trips, where BEGIN and COMMIT on their own would make five.
    expect(statementsSent() - before).to.equal(3);
    expect(await bed.effects(event!.correlationId)).to.deep.equal([
      { eventId: event!.eventId, consumer: 'edges' },
    ]);
    const { rows } = await sql<{ producer: string }>`
      SELECT producer FROM bus.outbox WHERE causation_id = ${event!.eventId}`.execute(bed.db);
    expect(rows).to.deep.equal([{ producer: 'edges' }]);
    // No relay runs here: the row would go out with the next test's relay.
    await sql`DELETE FROM bus.outbox WHERE causation_id = ${event!.eventId}`.execute(bed.db);
  });

  it('gives an event published twice one effect, and acks both entries', async () => {
    const prefix = bed.newPrefix();
    const [event, other] = configEvents(2);
    const handled: boolean[] = [];
    await bed.consumer({
      prefix,
      group: 'dup',
      handlers: { ConfigChanged: effectHandler('c1') },
      hooks: { handled: ({ duplicate }) => handled.push(duplicate) },
    });

    await bed.publish(prefix, 'config', event!, event!, other!);

    await waitFor(() => handled.length === 3, { message: 'three entries handled' });
    expect(handled.filter((duplicate) => duplicate)).to.have.length(1);
    const effects = await bed.effects(event!.correlationId);
    expect(effects.map((effect) => effect.eventId).sort()).to.deep.equal(
      [event!.eventId, other!.eventId].sort(),
    );
    expect(await bed.pending(prefix, 'config', 'dup')).to.equal(0);
  });

  it('redelivers an entry whose ack was lost after the commit, without a second effect', async () => {
    const prefix = bed.newPrefix();
    const [event] = configEvents(1);
    let crashes = 0;
    const handled: boolean[] = [];
    await bed.consumer({
      prefix,
      group: 'crash-before-ack',
      handlers: { ConfigChanged: effectHandler('c1') },
      hooks: {
        beforeAck: () => {
          // The process "dies" between the commit and XACK, once.
          if (crashes++ === 0) throw new Error('crash before ack');
        },
        handled: ({ duplicate }) => handled.push(duplicate),
      },
    });

    await bed.publish(prefix, 'config', event!);

    await waitFor(
      async () => handled.length === 1 && (await bed.pending(prefix, 'config', 'crash-before-ack')) === 0,
      {
        message: 'the redelivery acked',
      },
    );
    expect(crashes).to.equal(2);
    expect(handled).to.deep.equal([true]);
    expect(await bed.effects(event!.correlationId)).to.have.length(1);
  });

  it('acks, and does not dead-letter, an event whose ack is lost on its last allowed delivery', async () => {
    const prefix = bed.newPrefix();
    const group = 'ack-lost-twice';
    const [event] = configEvents(1);
    let crashes = 0;
    const deadLettered: unknown[] = [];
    await bed.consumer({
      prefix,
      group,
      maxDeliveries: 2,
      maxUnfinishedDeliveries: 2,
      handlers: { ConfigChanged: effectHandler('c1') },
      hooks: {
        beforeAck: () => {
          if (crashes++ < 2) throw new Error('crash before ack');
        },
        deadLettered: (info) => deadLettered.push(info),
      },
    });

    await bed.publish(prefix, 'config', event!);

    // Third delivery, past maxDeliveries: the inbox shows it was handled, so it is only acked.
    await waitFor(async () => crashes === 2 && (await bed.pending(prefix, 'config', group)) === 0, {
      message: 'the entry acked',
    });
    expect(deadLettered).to.deep.equal([]);
    expect(await bed.effects(event!.correlationId)).to.have.length(1);
  });

  describe('a handler that calls the outside world (two steps)', function () {
    /** A two-step handler that counts its outside calls and records its effect inside. */
    function counted() {
      const outside: string[] = [];
      const handler = twoStep<'ConfigChanged', string>(
        async (event) => {
          outside.push(event.eventId);
          return 'answer';
        },
        async (event, { trx }, answer) => {
          if (answer !== 'answer') throw new Error('inside got no answer from outside');
          await recordEffect(trx, event, 'two-step');
        },
      );
      return { outside, handler };
    }

    it('runs the outside step again for a copy published anew (it must be idempotent), with one effect', async () => {
      const prefix = bed.newPrefix();
      const [event] = configEvents(1);
      const { outside, handler } = counted();
      const handled: boolean[] = [];
      await bed.consumer({
        prefix,
        group: 'two-step-copy',
        handlers: { ConfigChanged: handler },
        hooks: { handled: ({ duplicate }) => handled.push(duplicate) },
      });

      await bed.publish(prefix, 'config', event!);
      await waitFor(() => handled.length === 1, { message: 'the first entry handled' });
      await bed.publish(prefix, 'config', event!);
      await waitFor(() => handled.length === 2, { message: 'the copy handled' });

      expect(handled).to.deep.equal([false, true]);
      expect(outside).to.deep.equal([event!.eventId, event!.eventId]);
      expect(await bed.effects(event!.correlationId)).to.have.length(1);
    });

    it('skips the outside step for a redelivered entry the inbox shows handled (its ack was lost)', async () => {
      const prefix = bed.newPrefix();
      const group = 'two-step-redelivered';
      const [event] = configEvents(1);
      const { outside, handler } = counted();
      let crashes = 0;
      await bed.consumer({
        prefix,
        group,
        handlers: { ConfigChanged: handler },
        hooks: {
          beforeAck: () => {
            if (crashes++ === 0) throw new Error('crash before ack');
          },
        },
      });

      await bed.publish(prefix, 'config', event!);
      await waitFor(async () => crashes === 2 && (await bed.pending(prefix, 'config', group)) === 0, {
        message: 'the redelivery acked',
      });
      expect(outside).to.deep.equal([event!.eventId]);
      expect(await bed.effects(event!.correlationId)).to.have.length(1);
    });

    it('sends an inside of one statement with its inbox row as one statement; a copy has no second effect', async () => {
      const prefix = bed.newPrefix();
      const [event] = configEvents(1);
      const outside: string[] = [];
      const handled: boolean[] = [];
      await bed.consumer({
        prefix,
        group: 'two-step-one-statement',
        handlers: {
          ConfigChanged: twoStepInOneStatement<'ConfigChanged', string>(
            async (seen) => {
              outside.push(seen.eventId);
              return 'answer';
            },
            (seen, answer) => sql`
              INSERT INTO bus_test_effects (correlation_id, event_id, consumer)
              SELECT ${seen.correlationId}::uuid, event_id, ${answer} FROM fresh`,
          ),
        },
        hooks: { handled: ({ duplicate }) => handled.push(duplicate) },
      });

      const before = statementsSent();
      await bed.publish(prefix, 'config', event!);
      await waitFor(() => handled.length === 1, { message: 'the first entry handled' });
      // The inbox row and the effect: one statement, where a transaction would send four.
      expect(statementsSent() - before).to.equal(1);
      await bed.publish(prefix, 'config', event!);
      await waitFor(() => handled.length === 2, { message: 'the copy handled' });

      expect(handled).to.deep.equal([false, true]);
      expect(outside).to.deep.equal([event!.eventId, event!.eventId]);
      expect(await bed.effects(event!.correlationId)).to.deep.equal([
        { eventId: event!.eventId, consumer: 'answer' },
      ]);
    });
  });
});
