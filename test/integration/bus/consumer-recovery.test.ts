import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { BusTestBed, configEvents, effectHandler } from '../../support/bus-harness.js';
import { waitFor } from '../../support/wait.js';

const fixture = fileURLToPath(new URL('../../support/bus-worker.ts', import.meta.url));
const root = path.resolve(path.dirname(fixture), '../..');

interface Worker {
  process: ChildProcess;
  lines: string[];
  exited: Promise<unknown>;
}

function startWorker(env: Record<string, string>): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('bus-worker ')) lines.push(line.slice('bus-worker '.length));
  });
  return { process: child, lines, exited: once(child, 'exit') };
}

describe('bus consumer: recovery from a dead worker', function () {
  let bed: BusTestBed;
  const workers: Worker[] = [];
  before(async () => {
    bed = await BusTestBed.open();
  });
  afterEach(async () => {
    for (const worker of workers.splice(0)) {
      if (worker.process.exitCode === null && worker.process.signalCode === null) {
        worker.process.kill('SIGKILL');
        await worker.exited;
      }
    }
    await bed.stopAll();
  });
  after(() => bed.close());

  it('claims the entries of a worker process killed mid-handler and finishes them once', async function () {
    this.timeout(30_000);
    const prefix = bed.newPrefix();
    const group = 'killed-worker';
    const events = configEvents(6);
    const correlationId = events[0]!.correlationId;
    const worker = startWorker({
      DATABASE_URL: bed.databaseUrl,
      REDIS_URL: bed.redisUrl,
      BUS_PREFIX: prefix,
      BUS_GROUP: group,
      CONSUMER_NAME: 'doomed',
      HANDLER_DELAY_MS: '400',
    });
    workers.push(worker);
    await waitFor(() => worker.lines.includes('ready'), {
      timeoutMs: 15_000,
      message: 'the worker to start',
    });
    const entryIds = await bed.publish(prefix, 'config', ...events);

    // Two events done, the third inside its transaction: kill the process there.
    const inFlight = await waitFor(
      () => {
        const committed = worker.lines
          .filter((line) => line.startsWith('committed '))
          .map((line) => line.slice(10));
        const last = worker.lines[worker.lines.length - 1] ?? '';
        const handling = last.startsWith('handling ') ? last.slice(9) : null;
        return committed.length >= 2 && handling && !committed.includes(handling) ? handling : null;
      },
      { timeoutMs: 10_000, message: 'the worker mid-handler' },
    );
    worker.process.kill('SIGKILL');
    await worker.exited;
    const inFlightEntry = entryIds[events.findIndex((event) => event.eventId === inFlight)];
    const pending = (await bed.redis.xpending(bed.key(prefix, 'config'), group, '-', '+', 10)) as [
      string,
      string,
    ][];
    expect(pending.map(([id, owner]) => [id, owner])).to.deep.equal([[inFlightEntry, 'doomed']]);

    await bed.consumer({
      prefix,
      group,
      consumer: 'survivor',
      handlers: { ConfigChanged: effectHandler('survivor') },
    });

    await waitFor(
      async () =>
        (await bed.effects(correlationId)).length >= events.length &&
        (await bed.pending(prefix, 'config', group)) === 0,
      {
        timeoutMs: 10_000,
        message: 'every event handled and acked',
      },
    );
    const effects = await bed.effects(correlationId);
    expect(effects.map((effect) => effect.eventId).sort()).to.deep.equal(
      events.map((event) => event.eventId).sort(),
    );
    expect(effects.find((effect) => effect.eventId === inFlight)?.consumer).to.equal('survivor');
    expect(effects.filter((effect) => effect.consumer === 'doomed').length).to.be.at.least(2);
  });

  it('creates its group again when Redis lost the stream (restarted empty)', async () => {
    const prefix = bed.newPrefix();
    const group = 'after-redis-restart';
    const [before, after] = configEvents(2);
    const handled: string[] = [];
    await bed.consumer({
      prefix,
      group,
      handlers: { ConfigChanged: effectHandler('c1') },
      hooks: { handled: ({ type }) => handled.push(type) },
    });
    await bed.publish(prefix, 'config', before!);
    await waitFor(() => handled.length === 1, { message: 'the first event handled' });

    await bed.redis.del(bed.key(prefix, 'config'));
    await bed.publish(prefix, 'config', after!);

    await waitFor(() => handled.length === 2, {
      timeoutMs: 5_000,
      message: 'the event published after the loss handled',
    });
    expect((await bed.effects(after!.correlationId)).map((effect) => effect.eventId)).to.deep.equal([
      before!.eventId,
      after!.eventId,
    ]);
  });

  it('forgets consumers gone for long with nothing pending', async () => {
    const prefix = bed.newPrefix();
    const group = 'forgetful';
    const key = bed.key(prefix, 'config');
    const consumers = async () =>
      ((await bed.redis.call('XINFO', 'CONSUMERS', key, group)) as string[][])
        .map((fields) => fields[1])
        .sort();
    await bed.redis.xgroup('CREATE', key, group, '0', 'MKSTREAM');
    // A consumer that handled an entry and went away.
    const [id] = await bed.publish(prefix, 'config', ...configEvents(1));
    await bed.redis.xreadgroup('GROUP', group, 'gone', 'COUNT', 1, 'STREAMS', key, '>');
    await bed.redis.xack(key, group, id!);
    // Forgotten after 20 x claimIdleMs idle.
    await bed.consumer({
      prefix,
      group,
      consumer: 'alive',
      claimIdleMs: 100,
      handlers: { ConfigChanged: effectHandler('alive') },
    });
    expect(await consumers()).to.deep.equal(['gone']);

    await waitFor(async () => !(await consumers()).includes('gone'), {
      timeoutMs: 5_000,
      message: 'the idle consumer forgotten',
    });
  });
});
