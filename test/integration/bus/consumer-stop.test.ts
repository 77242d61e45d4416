import { expect } from 'chai';
import { BusTestBed, configEvents, effectHandler, recordEffect } from '../../support/bus-harness.js';
import { waitFor } from '../../support/wait.js';

describe('bus consumer: graceful stop', function () {
  let bed: BusTestBed;
  before(async () => {
    bed = await BusTestBed.open();
  });
  afterEach(() => bed.stopAll());
  after(() => bed.close());

  it('returns at once from stop() while blocked in XREADGROUP', async () => {
    const prefix = bed.newPrefix();
    const [event] = configEvents(1);
    let handled = 0;
    const consumer = await bed.consumer({
      prefix,
      group: 'idle',
      blockMs: 30_000,
      handlers: { ConfigChanged: effectHandler('idle') },
      hooks: { handled: () => (handled += 1) },
    });
    // One event through proves the read loop runs; then it blocks for up to 30 s.
    await bed.publish(prefix, 'config', event!);
    await waitFor(() => handled === 1, { message: 'the event handled' });

    const started = Date.now();
    await consumer.stop();
    expect(Date.now() - started).to.be.below(500);
  });

  it('lets the in-flight handler finish and leaves unacked entries pending for the next start', async () => {
    const prefix = bed.newPrefix();
    const group = 'stopping';
    const [slow, failing] = configEvents(2);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let slowStarted = false;
    const retried: number[] = [];
    const consumer = await bed.consumer({
      prefix,
      group,
      consumer: 'restarting',
      blockMs: 30_000,
      // The retry of the failing entry is due long after the stop.
      claimIdleMs: 60_000,
      backoffMs: () => 20_000,
      handlers: {
        ConfigChanged: async (event, { trx }) => {
          if (event.eventId === failing!.eventId) throw new Error('fails until the restart');
          await recordEffect(trx, event, 'before-stop');
          slowStarted = true;
          await gate;
        },
      },
      hooks: { retried: ({ deliveries }) => retried.push(deliveries) },
    });
    await bed.publish(prefix, 'config', slow!, failing!);
    await waitFor(() => slowStarted && retried.length === 1, {
      message: 'one handler in flight, one failed',
    });

    let stopped = false;
    const stopping = consumer.stop().then(() => (stopped = true));
    // Give stop() every chance to return too early.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped).to.equal(false);
    release();
    await stopping;

    expect((await bed.effects(slow!.correlationId)).map((effect) => effect.eventId)).to.deep.equal([
      slow!.eventId,
    ]);
    const pending = (await bed.redis.xpending(bed.key(prefix, 'config'), group, '-', '+', 10)) as [
      string,
      string,
    ][];
    expect(pending.map(([, owner]) => owner)).to.deep.equal(['restarting']);

    // The same instance started again picks up what it left unacknowledged.
    await bed.consumer({
      prefix,
      group,
      consumer: 'restarting',
      handlers: { ConfigChanged: effectHandler('after-restart') },
    });
    await waitFor(async () => (await bed.pending(prefix, 'config', group)) === 0, {
      message: 'the failed entry recovered',
    });
    const effects = await bed.effects(slow!.correlationId);
    expect(effects.map((effect) => [effect.eventId, effect.consumer])).to.deep.equal([
      [slow!.eventId, 'before-stop'],
      [failing!.eventId, 'after-restart'],
    ]);
  });
});
