// A redis-server of a test's own, persisting to an append-only file in a temporary directory, that
// the test can kill (losing what was not yet fsynced), damage (the AOF's tail cut off) and restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class RedisServer {
  private child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), mkdtempSync(path.join(tmpdir(), 'clinic-redis-')));
    await server.launch();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async launch(): Promise<void> {
    if (this.child) return;
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir];
    args.push(
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--aof-load-truncated',
      'yes',
    );
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    // A test process that dies leaves no server behind.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => {
      process.removeListener('exit', killOnExit);
      if (this.child === child) this.child = null;
    });
    const probe = new Redis(this.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    // Refused until the server listens: that is what the probe waits out.
    probe.on('error', () => {});
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await probe.connect();
          // LOADING until the AOF is read back.
          if ((await probe.ping()) === 'PONG') return;
        } catch (error) {
          if (attempt > 200) throw error;
          probe.disconnect();
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    } finally {
      probe.disconnect();
    }
  }

  /** SIGKILL: whatever was written in the last second and not yet fsynced is lost. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }

  /** Cuts `bytes` off the end of the newest AOF file (the server must be down): Redis loses its tail. */
  truncateTail(bytes: number): number {
    const aofDir = path.join(this.dir, 'appendonlydir');
    const incr = readdirSync(aofDir)
      .filter((name) => name.endsWith('.incr.aof'))
      .map((name) => path.join(aofDir, name))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
    if (!incr) return 0;
    const size = statSync(incr).size;
    const cut = Math.min(bytes, size);
    truncateSync(incr, size - cut);
    return cut;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
