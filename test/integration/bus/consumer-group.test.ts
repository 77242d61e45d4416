import { expect } from 'chai';
import { BusTestBed, configEvents, effectHandler } from '../../support/bus-harness.js';
import { waitFor } from '../../support/wait.js';

describe('bus consumer group: several consumers share the work', function () {
  let bed: BusTestBed;
  before(async () => {
    bed = await BusTestBed.open();
  });
  afterEach(() => bed.stopAll());
  after(() => bed.close());

  for (const transactionPerBatch of [false, true]) {
    const mode = transactionPerBatch ? 'a transaction per batch' : 'a transaction per event';
    it(`handles each of 1,000 events exactly once across two consumers, both doing some (${mode})`, async function () {
      this.timeout(30_000);
      const prefix = bed.newPrefix();
      const group = `pair-${transactionPerBatch}`;
      const events = configEvents(1_000);
      const correlationId = events[0]!.correlationId;
      for (const name of ['left', 'right']) {
        await bed.consumer({
          prefix,
          group,
          consumer: name,
          batchSize: 16,
          transactionPerBatch,
          handlers: { ConfigChanged: effectHandler(name) },
        });
      }

      for (let i = 0; i < events.length; i += 100)
        await bed.publish(prefix, 'config', ...events.slice(i, i + 100));

      await waitFor(
        async () =>
          (await bed.effects(correlationId)).length >= events.length &&
          (await bed.pending(prefix, 'config', group)) === 0,
        { timeoutMs: 20_000, message: 'all events handled and acked' },
      );
      const effects = await bed.effects(correlationId);
      expect(effects).to.have.length(events.length);
      expect(new Set(effects.map((effect) => effect.eventId))).to.deep.equal(
        new Set(events.map((event) => event.eventId)),
      );
      const byConsumer = (name: string) => effects.filter((effect) => effect.consumer === name).length;
      expect(byConsumer('left')).to.be.above(0);
      expect(byConsumer('right')).to.be.above(0);
      const info = await bed.groupInfo(prefix, 'config', group);
      expect(info).to.include({ 'entries-read': 1_000, lag: 0, pending: 0 });
    });
  }
});
