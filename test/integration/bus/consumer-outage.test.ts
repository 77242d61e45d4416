import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { expect } from 'chai';
import { listDeadLetters } from '../../../lib/bus/dead-letters.js';
import { BusTestBed, configEvents, recordEffect } from '../../support/bus-harness.js';
import { waitFor } from '../../support/wait.js';

/** A port nothing listens on yet: connecting to it is refused until `open()`. */
async function refusingPort(): Promise<{ port: number; open(): Promise<void>; close(): Promise<void> }> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  let server: Server | null = null;
  return {
    port,
    async open() {
      server = createServer((socket) => socket.end());
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    close: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
}

/** Connects to the dependency, as a handler calling a mail server or a database would. */
function reach(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

describe('bus consumer during an outage', function () {
  this.timeout(40_000);
  let bed: BusTestBed;
  before(async () => {
    bed = await BusTestBed.open();
  });
  afterEach(() => bed.stopAll());
  after(() => bed.close());

  it('retries a handler that sees ECONNREFUSED for 10 s until it succeeds, reading nothing new meanwhile', async () => {
    const prefix = bed.newPrefix();
    const group = 'outage';
    const dependency = await refusingPort();
    const attempts = new Map<string, number>();
    const [first, ...later] = configEvents(4);
    await bed.consumer({
      prefix,
      group,
      maxDeliveries: 2,
      // Long enough that only the consumer's own retries touch the entry.
      claimIdleMs: 5_000,
      handlers: {
        ConfigChanged: async (event, { trx }) => {
          attempts.set(event.eventId, (attempts.get(event.eventId) ?? 0) + 1);
          await reach(dependency.port);
          await recordEffect(trx, event, group);
        },
      },
    });
    try {
      await bed.publish(prefix, 'config', first!);
      await waitFor(() => (attempts.get(first!.eventId) ?? 0) >= 2, { message: 'the first event retried' });
      await bed.publish(prefix, 'config', ...later);
      const outageEnds = Date.now() + 10_000;
      while (Date.now() < outageEnds) {
        // The consumer waits on its dependency: the later entries stay unread in the stream.
        const pending = (await bed.redis.xpending(bed.key(prefix, 'config'), group, '-', '+', 10)) as [
          string,
          string,
          number,
          number,
        ][];
        expect(pending.length, 'entries read during the outage').to.equal(1);
        // A retry for an outage is not one more delivery: it never comes near BUS_MAX_DELIVERIES.
        expect(pending[0]?.[3], 'deliveries counted').to.equal(1);
        expect([...attempts.keys()]).to.deep.equal([first!.eventId]);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(attempts.get(first!.eventId)).to.be.greaterThan(2);
      await dependency.open();
      await waitFor(async () => (await bed.effects(first!.correlationId)).length === 4, {
        timeoutMs: 10_000,
        message: 'every event handled once the dependency is back',
      });
      const letters = (await listDeadLetters(bed.db, { includeReplayed: true, limit: 1000 })).filter(
        (letter) => letter.consumerGroup === group,
      );
      expect(letters).to.deep.equal([]);
    } finally {
      await dependency.close();
    }
  });

  it('runs no more transactions at once than it is given connections, from reads and claims alike', async () => {
    const prefix = bed.newPrefix();
    const group = 'bounded';
    const events = configEvents(24);
    let inFlight = 0;
    let most = 0;
    await bed.consumer({
      prefix,
      group,
      batchSize: 16,
      maxTransactions: 3,
      handlers: {
        ConfigChanged: async (event, { trx }) => {
          inFlight++;
          most = Math.max(most, inFlight);
          await new Promise((resolve) => setTimeout(resolve, 30));
          await recordEffect(trx, event, group);
          inFlight--;
        },
      },
    });
    await bed.publish(prefix, 'config', ...events);
    await waitFor(async () => (await bed.effects(events[0]!.correlationId)).length === 24, {
      timeoutMs: 10_000,
      message: 'all handled',
    });
    expect(most).to.equal(3);
  });
});
