import { expect } from 'chai';
import { listDeadLetters, replayDeadLetter } from '../../../lib/bus/dead-letters.js';
import { DEAD_LETTER_STREAM } from '../../../lib/bus/redis.js';
import { ConflictError } from '../../../lib/errors.js';
import { BusTestBed, configEvents, effectHandler, recordEffect } from '../../support/bus-harness.js';
import { waitFor } from '../../support/wait.js';

describe('bus dead letters', function () {
  let bed: BusTestBed;
  before(async () => {
    bed = await BusTestBed.open();
  });
  afterEach(() => bed.stopAll());
  after(() => bed.close());

  async function deadLettersOf(group: string) {
    return (await listDeadLetters(bed.db, { includeReplayed: true, limit: 1000 })).filter(
      (letter) => letter.consumerGroup === group,
    );
  }

  it('dead-letters an invalid payload at its first delivery and goes on with the next events', async () => {
    const prefix = bed.newPrefix();
    const group = 'poison-payload';
    const events = configEvents(3);
    await bed.consumer({ prefix, group, handlers: { ConfigChanged: effectHandler('c1') } });

    const [poisonId] = await bed.publish(
      prefix,
      'config',
      {
        fields: [
          'type',
          'ConfigChanged',
          'event',
          JSON.stringify({ type: 'ConfigChanged', data: 'not an event' }),
        ],
      },
      ...events,
    );

    await waitFor(async () => (await bed.effects(events[0]!.correlationId)).length === 3, {
      message: 'the valid events handled',
    });
    const [letter, ...others] = await waitFor(
      () => deadLettersOf(group).then((letters) => letters.length > 0 && letters),
      {
        message: 'the dead letter',
      },
    );
    expect(others).to.deep.equal([]);
    // Parsing fails the same way every time: retrying would only delay the dead letter.
    expect(letter).to.include({
      entryId: poisonId,
      stream: 'config',
      eventId: null,
      type: null,
      deliveries: 1,
    });
    expect(letter!.error).to.match(/invalid envelope/);
    expect(letter!.payload).to.deep.equal({ type: 'ConfigChanged', data: 'not an event' });
    expect(await bed.pending(prefix, 'config', group)).to.equal(0);
    const notices = await bed.redis.xrange(bed.key(prefix, DEAD_LETTER_STREAM), '-', '+');
    expect(notices.map(([, fields]) => fields.slice(0, 6))).to.deep.equal([
      ['group', group, 'stream', 'config', 'entry', poisonId],
    ]);
  });

  it('dead-letters an event whose handler always throws after maxDeliveries, and goes on', async () => {
    const prefix = bed.newPrefix();
    const group = 'poison-handler';
    const [poison] = configEvents(1, { actor: 'poison' });
    const events = configEvents(4);
    const retried: number[] = [];
    await bed.consumer({
      prefix,
      group,
      maxDeliveries: 3,
      handlers: {
        ConfigChanged: async (event, { trx }) => {
          await recordEffect(trx, event, 'c1');
          if (event.data.actor === 'poison') throw new Error('handler cannot cope');
        },
      },
      hooks: { retried: ({ deliveries }) => retried.push(deliveries) },
    });

    const [poisonId] = await bed.publish(prefix, 'config', poison!, ...events);

    const [letter] = await waitFor(
      () => deadLettersOf(group).then((letters) => letters.length > 0 && letters),
      {
        message: 'the dead letter',
      },
    );
    expect(letter).to.include({
      entryId: poisonId,
      eventId: poison!.eventId,
      type: 'ConfigChanged',
      deliveries: 3,
      error: 'handler cannot cope',
    });
    expect(retried).to.deep.equal([1, 2]);
    // Each failed attempt rolled back, its effect too.
    expect(await bed.effects(poison!.correlationId)).to.deep.equal([]);
    await waitFor(async () => (await bed.effects(events[0]!.correlationId)).length === 4, {
      message: 'the next events handled',
    });
    await waitFor(async () => (await bed.pending(prefix, 'config', group)) === 0, {
      message: 'nothing pending',
    });
  });

  it('replays a dead letter through the outbox: the failing group gets it again, the others skip it', async () => {
    const prefix = bed.newPrefix();
    const [event] = configEvents(1);
    let broken = true;
    const handled: Record<string, boolean[]> = { failing: [], healthy: [] };
    const consumerOf = (group: 'failing' | 'healthy') =>
      bed.consumer({
        prefix,
        group,
        maxDeliveries: 2,
        handlers: {
          ConfigChanged: async (received, { trx }) => {
            if (group === 'failing' && broken) throw new Error('bug in the failing group');
            await recordEffect(trx, received, group);
          },
        },
        hooks: { handled: ({ duplicate }) => handled[group]!.push(duplicate) },
      });
    await consumerOf('failing');
    await consumerOf('healthy');
    await bed.relay({ prefix });

    await bed.writeToOutbox([event!]);
    const [letter] = await waitFor(
      () => deadLettersOf('failing').then((letters) => letters.length > 0 && letters),
      {
        message: 'the dead letter',
      },
    );
    await waitFor(() => handled.healthy!.length === 1, { message: 'the healthy group handling it' });

    broken = false;
    await replayDeadLetter(bed.db, letter!.id);

    await waitFor(() => handled.failing!.length === 1 && handled.healthy!.length === 2, {
      message: 'the replay handled by both groups',
    });
    expect(handled).to.deep.equal({ failing: [false], healthy: [false, true] });
    const effects = await bed.effects(event!.correlationId);
    expect(effects.map((effect) => effect.consumer).sort()).to.deep.equal(['failing', 'healthy']);
    const [replayed] = await deadLettersOf('failing');
    expect(replayed!.replayedAt).to.be.instanceOf(Date);
    const replayAgain = await replayDeadLetter(bed.db, letter!.id).catch((error: unknown) => error);
    expect(replayAgain).to.be.instanceOf(ConflictError);
  });

  it('dead-letters entries whose handler was started too often (it crashed its consumer each time) without running it again', async () => {
    const prefix = bed.newPrefix();
    const group = 'crashed-every-time';
    const key = bed.key(prefix, 'config');
    const { redis } = bed;
    const events = configEvents(4);
    await redis.xgroup('CREATE', key, group, '0', 'MKSTREAM');
    const [first, second, third, fourth] = await bed.publish(prefix, 'config', ...events);
    // The first and third entries' handler was started 12 times (4 × maxDeliveries), each time killing
    // a consumer; between them, a live consumer holds the second. The fourth's handler was started 5
    // times, more than maxDeliveries, by consumers killed meanwhile (a busy platform's restarts): not
    // yet a crash loop, so it is handled.
    await redis.xreadgroup('GROUP', group, 'crashing', 'COUNT', 1, 'STREAMS', key, '>');
    await redis.xreadgroup('GROUP', group, 'busy', 'COUNT', 1, 'STREAMS', key, '>');
    await redis.xreadgroup('GROUP', group, 'crashing', 'COUNT', 2, 'STREAMS', key, '>');
    await redis.xclaim(key, group, 'crashing', 0, first!, third!, fourth!, 'IDLE', 60_000, 'RETRYCOUNT', 5);
    await bed.db
      .insertInto('bus.attempts')
      .values(
        [
          { event_id: events[0]!.eventId, attempts: 12 },
          { event_id: events[2]!.eventId, attempts: 12 },
          { event_id: events[3]!.eventId, attempts: 5 },
        ].map((row) => ({ consumer_group: group, ...row })),
      )
      .execute();
    const ran: string[] = [];

    await bed.consumer({
      prefix,
      group,
      maxDeliveries: 3,
      handlers: {
        ConfigChanged: async (event, { trx }) => {
          ran.push(event.eventId);
          await recordEffect(trx, event, 'claimer');
        },
      },
    });

    const letters = await waitFor(() => deadLettersOf(group).then((found) => found.length === 2 && found), {
      message: 'two dead letters',
    });
    expect(letters.map((letter) => [letter.entryId, letter.deliveries, letter.error]).sort()).to.deep.equal([
      [first, 13, 'too many deliveries'],
      [third, 13, 'too many deliveries'],
    ]);
    // The live consumer's entry is claimed only once it is idle too, and handled normally.
    await waitFor(async () => (await bed.pending(prefix, 'config', group)) === 0, {
      message: 'nothing pending',
    });
    expect(ran.sort()).to.deep.equal([events[1]!.eventId, events[3]!.eventId].sort());
    expect(second).to.be.a('string');
  });
});
