import { expect } from 'chai';
import { trimStream } from '../../../lib/bus/trim.js';
import { BusTestBed, configEvents, effectHandler } from '../../support/bus-harness.js';
import { waitFor } from '../../support/wait.js';

describe('bus stream trimming', function () {
  let bed: BusTestBed;
  before(async () => {
    bed = await BusTestBed.open();
  });
  afterEach(() => bed.stopAll());
  after(() => bed.close());

  it('never removes an entry that a group has pending or has not read yet', async () => {
    const prefix = bed.newPrefix();
    const key = bed.key(prefix, 'config');
    const { redis } = bed;
    const remaining = async () => (await redis.xrange(key, '-', '+')).map(([id]) => id);
    await redis.xgroup('CREATE', key, 'slow', '0', 'MKSTREAM');
    const ids = await bed.publish(prefix, 'config', ...configEvents(10));
    // One group is done with every entry...
    await bed.consumer({ prefix, group: 'done', handlers: { ConfigChanged: effectHandler('done') } });
    await waitFor(
      async () =>
        (await bed.groupInfo(prefix, 'config', 'done')).lag === 0 &&
        (await bed.pending(prefix, 'config', 'done')) === 0,
      {
        message: 'the first group done',
      },
    );
    // ...the other has read six, acked the first two: 3 to 6 pending, 7 to 10 unread.
    await redis.xreadgroup('GROUP', 'slow', 's1', 'COUNT', 6, 'STREAMS', key, '>');
    await redis.xack(key, 'slow', ids[0]!, ids[1]!);

    expect(await trimStream(redis, prefix, 'config', 0)).to.equal(2);
    expect(await remaining()).to.deep.equal(ids.slice(2));

    // Entries younger than the retention stay even when every group is done with them.
    await redis.xack(key, 'slow', ...ids.slice(2, 6));
    expect(await trimStream(redis, prefix, 'config', 60_000)).to.equal(0);

    // Without retention, everything up to the slow group's last read goes; what it has not read stays.
    expect(await trimStream(redis, prefix, 'config', 0)).to.equal(3);
    expect(await remaining()).to.deep.equal(ids.slice(5));
    const [[, unread]] = (await redis.xreadgroup('GROUP', 'slow', 's1', 'STREAMS', key, '>')) as [
      [string, [string, string[]][]],
    ];
    expect(unread.map(([id]) => id)).to.deep.equal(ids.slice(6));

    // A group that has read nothing yet holds the whole stream.
    await redis.xgroup('CREATE', key, 'late', '0');
    expect(await trimStream(redis, prefix, 'config', 0)).to.equal(0);
  });

  it('leaves a stream without groups, or no stream at all, alone', async () => {
    const prefix = bed.newPrefix();
    expect(await trimStream(bed.redis, prefix, 'config', 0)).to.equal(0);
    await bed.publish(prefix, 'config', ...configEvents(3));
    expect(await trimStream(bed.redis, prefix, 'config', 0)).to.equal(0);
    expect(await bed.redis.xlen(bed.key(prefix, 'config'))).to.equal(3);
  });
});
