import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { NodeProcess } from '../../support/api-process.js';

describe('a worker process starts and stops gracefully', function () {
  this.timeout(40_000);
  const started: NodeProcess[] = [];

  /** The pricing worker with the run's database, under a key prefix of its own inside the run's. */
  async function startWorker(): Promise<NodeProcess> {
    const worker = new NodeProcess('workers/pricing.ts', {
      LOG_LEVEL: 'info',
      REDIS_PREFIX: `${process.env.REDIS_PREFIX}worker-${randomUUID().slice(0, 8)}:`,
      CONSUMER_NAME: `shutdown-test-${randomUUID().slice(0, 8)}`,
    });
    started.push(worker);
    const ready = await worker.waitForLog('participant ready');
    expect(ready).to.include({ level: 'info', service: 'pricing', group: 'pricing' });
    return worker;
  }

  after(async () => {
    await Promise.all(started.map((worker) => worker.stop()));
  });

  it('logs JSON lines on stdout, and on SIGTERM exits with 0 well within the 25 s deadline', async () => {
    const worker = await startWorker();

    const signalled = Date.now();
    worker.child.kill('SIGTERM');
    const { code, signal } = await worker.exited;
    const elapsedMs = Date.now() - signalled;

    expect({ code, signal }, worker.stderr).to.deep.equal({ code: 0, signal: null });
    expect(elapsedMs).to.be.below(5_000);
    expect(worker.stderr).to.equal('');
    const messages = worker.logs().map((log) => log.message);
    expect(messages).to.include('shutting down');
    expect(messages).not.to.include('shutdown deadline passed; exiting anyway');
    expect(messages).not.to.include('error while closing');
  });

  it('ignores a second SIGTERM during shutdown and still exits with 0', async () => {
    const worker = await startWorker();

    worker.child.kill('SIGTERM');
    await worker.waitForLog('shutting down', 5_000);
    const secondSent = worker.running && worker.child.kill('SIGTERM');
    const { code, signal } = await worker.exited;

    expect({ code, signal }, worker.stderr).to.deep.equal({ code: 0, signal: null });
    expect(secondSent, 'the second signal was sent while the worker was shutting down').to.equal(true);
    const ignored = worker.logs().filter((log) => log.message === 'already shutting down; signal ignored');
    expect(ignored, worker.stdout).to.have.length(1);
    expect(worker.logs().filter((log) => log.message === 'shutting down')).to.have.length(1);
  });
});
