import { expect } from 'chai';
import { BusTestBed, configEvents, effectHandler } from '../../support/bus-harness.js';
import { waitFor } from '../../support/wait.js';

describe('bus consumer: at-least-once delivery, one effect', function () {
  let bed: BusTestBed;
  before(async () => {
    bed = await BusTestBed.open();
  });
  afterEach(() => bed.stopAll());
  after(() => bed.close());

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
});
