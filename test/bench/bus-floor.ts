// The floor under the saga on this machine: the bus alone along the saga's critical path. A booking's
// outcome is five hops after the web's commit (BookingRequested → scheduling → pricing → quota →
// payment → booking, which emits BookingConfirmed), each in a process of its own. Here five stage
// processes (hop-stage.ts) pass one event along with the real consumer and relay, and no business work:
// per hop an inbox row, an outbox row, the XADD and the XACK. This process is the web's part: it commits
// each chain's first event to the outbox and publishes it itself. Offered open loop at fixed rates,
// it gives the CPU a chain costs (stages, PostgreSQL, Redis) and the chain's latency, so the system's
// figures can be read against what the architecture alone takes here. The same chain with stages
// written by hand (hand-hop-stage.ts: one round trip per transaction, nothing else) shows what the bus
// itself adds.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { sql } from 'kysely';
import pg from 'pg';
import { appendToOutbox } from '../../lib/bus/outbox.js';
import { createRedis } from '../../lib/bus/redis.js';
import { OutboxRelay } from '../../lib/bus/relay.js';
import { createDb } from '../../lib/db/database.js';
import { createEvent } from '../../lib/events/catalogue.js';
import { postgresCpuSeconds, processFigures } from './bench-support.js';

/** The saga's hops from the web's commit to BookingConfirmed (the system bench's saga time). */
export const CRITICAL_PATH_HOPS = 5;
const DRIVER = 'hop-driver';

export interface FloorStep {
  rate: number;
  posted: number;
  /** Chains finished within a second of the posting window's end. */
  doneInWindow: number;
  /** Stage processes, PostgreSQL and Redis, per chain (the driver's own CPU is apart). */
  cpuMsPerChain: number;
  /** Of cpuMsPerChain: the stage processes, all of PostgreSQL's processes, Redis. */
  cpuMsPerChainBy: { stages: number; postgres: number; redis: number };
  driverCpuMsPerChain: number;
  latencyMs: { p50: number; p99: number };
  sustained: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 0) => Number(value.toFixed(digits));
const quantile = (sorted: number[], q: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** The stage processes: the real bus (hop-stage.ts), or the bare minimum of a hop written by hand. */
export type FloorStages = 'bus' | 'by hand';
const STAGE_SCRIPTS: Record<FloorStages, string> = {
  bus: 'test/bench/hop-stage.ts',
  'by hand': 'test/bench/hand-hop-stage.ts',
};

function startStage(stage: number, stages: FloorStages, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', STAGE_SCRIPTS[stages]], {
    env: { ...env, HOP_STAGE: String(stage), HOPS: String(CRITICAL_PATH_HOPS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`hop stage ${stage} exited (${code}) before it was ready`)),
    );
    createInterface({ input: child.stdout! }).once('line', () => resolve(child));
  });
}

/**
 * Runs the chain at each rate for `seconds`, one step after the other, after `warmUpSeconds` at the first
 * rate (connections, prepared plans, and code the JIT has optimised: a running system's steady state);
 * stops its processes at the end.
 */
export async function busFloor(
  environment: { databaseUrl: string; redisUrl: string; redisPrefix: string },
  options: { stages: FloorStages; rates: number[]; seconds: number; warmUpSeconds: number },
): Promise<FloorStep[]> {
  const { stages: kind, rates, seconds, warmUpSeconds } = options;
  const base = `${environment.redisPrefix}floor-${kind === 'bus' ? 'bus' : 'hand'}:`;
  const db = createDb(environment.databaseUrl, 16);
  const pool = new pg.Pool({ connectionString: environment.databaseUrl, max: 2 });
  const redis = createRedis(environment.redisUrl, 'worker', `${DRIVER}:commands`);
  const relay = new OutboxRelay({
    db,
    redis,
    databaseUrl: environment.databaseUrl,
    prefix: `${base}hop1:`,
    directGraceMs: 10 * 60_000,
  });
  const stages: ChildProcess[] = [];
  try {
    await sql`CREATE TABLE IF NOT EXISTS bench_hops (correlation_id uuid PRIMARY KEY, finished_at timestamptz NOT NULL)`.execute(
      db,
    );
    const env = {
      ...process.env,
      DATABASE_URL: environment.databaseUrl,
      REDIS_URL: environment.redisUrl,
      BUS_FLOOR_PREFIX: base,
    };
    for (let stage = 1; stage <= CRITICAL_PATH_HOPS; stage++) stages.push(await startStage(stage, kind, env));
    await relay.start();
    const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? 0);

    const startedAt = new Map<string, number>();
    const produce = async () => {
      const correlationId = randomUUID();
      const event = createEvent(
        'ConfigChanged',
        {
          configVersion: 1,
          discountBasisPoints: 1200,
          dailyDiscountQuota: 100,
          paymentSimulationMode: 'success',
          paymentFailureRate: 0,
          actor: 'bench',
        },
        { bookingId: null, correlationId, causationId: null },
      );
      startedAt.set(correlationId, Date.now());
      await appendToOutbox(db, [event], DRIVER);
      relay.publishCommitted([event]);
      return correlationId;
    };
    const finished = async (ids: string[]) => {
      const { rows } = await pool.query<{ correlation_id: string; at: string }>(
        'SELECT correlation_id, extract(epoch FROM finished_at) * 1000 AS at FROM bench_hops WHERE correlation_id = ANY($1)',
        [ids],
      );
      return rows;
    };
    const cpu = async () => {
      const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const redisSeconds = processFigures(redisPid).cpuSeconds;
      const postgres = postgresCpuSeconds(rows[0]!.pid);
      let stageSeconds = 0;
      for (const stage of stages) stageSeconds += processFigures(stage.pid!).cpuSeconds;
      const { user, system } = process.cpuUsage();
      return { stages: stageSeconds, postgres, redis: redisSeconds, driver: (user + system) / 1e6 };
    };
    const run = async (rate: number, runSeconds: number): Promise<FloorStep> => {
      const before = await cpu();
      const started = performance.now();
      const total = Math.round(rate * runSeconds);
      const posts: Promise<string>[] = [];
      while (posts.length < total) {
        const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
        while (posts.length < due) posts.push(produce());
        await sleep(2);
      }
      const ids = await Promise.all(posts);
      const windowEnd = started + (runSeconds + 1) * 1000;
      let rows = await finished(ids);
      while (rows.length < ids.length && performance.now() < windowEnd) {
        await sleep(50);
        rows = await finished(ids);
      }
      const doneInWindow = rows.length;
      const drainEnd = performance.now() + 60_000;
      while (rows.length < ids.length && performance.now() < drainEnd) {
        await sleep(100);
        rows = await finished(ids);
      }
      const after = await cpu();
      const perChain = (part: 'stages' | 'postgres' | 'redis' | 'driver') =>
        round(((after[part] - before[part]) * 1000) / ids.length, 1);
      const latencies = rows
        .map((row) => Number(row.at) - startedAt.get(row.correlation_id)!)
        .sort((a, b) => a - b);
      return {
        rate,
        posted: ids.length,
        doneInWindow,
        cpuMsPerChain: round(perChain('stages') + perChain('postgres') + perChain('redis'), 1),
        cpuMsPerChainBy: {
          stages: perChain('stages'),
          postgres: perChain('postgres'),
          redis: perChain('redis'),
        },
        driverCpuMsPerChain: perChain('driver'),
        latencyMs: { p50: round(quantile(latencies, 0.5), 1), p99: round(quantile(latencies, 0.99), 1) },
        sustained: doneInWindow >= 0.95 * ids.length && rows.length === ids.length,
      };
    };
    await run(rates[0]!, warmUpSeconds);
    const steps: FloorStep[] = [];
    for (const rate of rates) steps.push(await run(rate, seconds));
    return steps;
  } finally {
    await Promise.all(
      stages.map((stage) =>
        stage.exitCode === null
          ? new Promise((resolve) => stage.once('exit', resolve).kill('SIGTERM'))
          : null,
      ),
    );
    await relay.stop();
    await redis.quit();
    await pool.end();
    await db.destroy();
  }
}
