// Benchmark of the whole system as the Procfile runs it: `npm run bench [-- --json] [-- --quick]`.
// Builds, then starts the compiled processes on a database and Redis prefix of its own (dropped at
// the end), and measures in the same run:
// - this machine's ceilings: PostgreSQL durable commits/s (16 clients), Redis round trips/s (one
//   client, and 16 in flight), Express + one pg query req/s (32 in flight, a process of its own);
// - open-loop steps of bookings (30 % discount-eligible, the default 300 ms gateway delay), one
//   instance per worker and then two, until a step is not sustained (under 95 % of its bookings
//   terminal within the window, or the backlog still growing at its end);
// - the saga's own overhead: 100 bookings/s with the gateway delay set to 0;
// - the floor under both: the saga's critical path with no business work at 100/s and 300/s, on the
//   real bus and with hops written by hand, each with nothing around it (bus-floor.ts);
// - per step: saga latency p50/p95/p99 from the events' own times, POST latency, commits and rows
//   written per booking (pg_stat_database), CPU per process; the status endpoint's req/s at 32 in
//   flight against the ceiling; each process's peak RSS.
// Figures only: nothing here passes or fails a test. Run it with nothing else running.
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';
import { busMetricsKey, parseBusMetrics } from '../../lib/bus/bus-metrics.js';
import { upsertAdmin } from '../../lib/identity/user-service.js';
import { createDb } from '../../lib/db/database.js';
import { SagaSystem, workerNames } from '../support/system.js';
import {
  ApiClient,
  benchBooking,
  expressCeiling,
  requestsPerSecWithCpu,
  postgresCpuSeconds,
  processFigures,
  migrateAndSeed,
  useEnvironment,
} from './bench-support.js';
import { busFloor, CRITICAL_PATH_HOPS, type FloorStages, type FloorStep } from './bus-floor.js';
import { createTestEnvironment } from '../support/test-env.js';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const STEP_SECONDS = quick ? 5 : 10;
/**
 * A step's bookings must be terminal this long after its last POST was due: a web or a saga that
 * falls behind does not get the window back by answering late.
 */
const WINDOW_SECONDS = 5;
/** `--rates=100,200` steps through these only; `--one` stops after one instance per worker. */
const option = (name: string) =>
  process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const RATES = option('rates')?.split(',').map(Number) ?? [25, 50, 100, 150, 200, 300, 400, 600];
const oneInstanceOnly = process.argv.includes('--one');
const PATIENTS = 40;
const LOAD_GENERATOR = 'load generator';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const progress = (line: string) => {
  if (!json) process.stderr.write(`  … ${line}\n`);
};
const quantile = (sorted: number[], q: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (value: number, digits = 0) => Number(value.toFixed(digits));

async function pgCommitsPerSec(databaseUrl: string): Promise<number> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 16 });
  await pool.query('CREATE TABLE IF NOT EXISTS bench_commits (id bigserial PRIMARY KEY, at timestamptz)');
  let commits = 0;
  const end = Date.now() + 3_000;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (Date.now() < end) {
        await pool.query('INSERT INTO bench_commits (at) VALUES (now())');
        commits++;
      }
    }),
  );
  await pool.query('DROP TABLE bench_commits');
  await pool.end();
  return commits / 3;
}

async function redisRoundTripsPerSec(redisUrl: string, inFlight: number): Promise<number> {
  const redis = new Redis(redisUrl);
  let count = 0;
  const end = Date.now() + 2_000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (Date.now() < end) {
        await redis.ping();
        count++;
      }
    }),
  );
  redis.disconnect();
  return count / 2;
}

interface StepResult {
  instances: number;
  rate: number;
  gatewayDelayMs: number;
  posted: number;
  postErrors: number;
  doneInWindow: number;
  /** Bookings still pending halfway through the step's posting and at its end. */
  backlog: { mid: number; end: number };
  sustained: boolean;
  sagaMs: { p50: number; p95: number; p99: number };
  postMs: { p50: number; p99: number };
  commitsPerBooking: number;
  /** Sent by every process of the system (their own count, flushed to Redis each second). */
  statementsPerBooking: number;
  /** The same by process group (the web, each participant over its instances). */
  statementsByGroup: Record<string, number>;
  /** Commands the Redis server ran (INFO commandstats, every client), in all and by command, per booking. */
  redisCommandsPerBooking: number;
  redisCommandsByType: Record<string, number>;
  /** Requests the Redis server read from its clients (INFO stats total_reads_processed): its round trips. */
  redisReadsPerBooking: number;
  rowsInsertedPerBooking: number;
  rowsUpdatedPerBooking: number;
  cpuPercent: Record<string, number>;
  /** CPU time of every process of the system (all of PostgreSQL's and Redis included) per booking. */
  cpuMsPerBooking: number;
}

class Bench {
  private serviceIds: { cheap: string; dear: string[] } = { cheap: '', dear: [] };
  private patients: ApiClient[] = [];
  private sequence = 0;
  /** The last refused or failed POST, printed with a step that had errors. */
  lastError = '';
  readonly systems: SagaSystem[] = [];

  constructor(
    private readonly base: string,
    private readonly pool: pg.Pool,
    private readonly redisPid: number,
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async prepare(): Promise<void> {
    const { rows } = await this.pool.query<{ id: string; price_paise: number }>(
      "SELECT id, price_paise FROM catalogue.services WHERE active AND gender = 'all' ORDER BY price_paise",
    );
    const cheap = rows.find((row) => row.price_paise <= 100_000);
    const dear = rows.find((row) => row.price_paise > 100_000);
    if (!cheap || !dear) throw new Error('the demo catalogue has no cheap and dear services for everyone');
    this.serviceIds = { cheap: cheap.id, dear: [dear.id] };
    this.patients = await Promise.all(
      Array.from({ length: PATIENTS }, async (_, i) => {
        const client = new ApiClient(this.base);
        await client.enter('/api/auth/signup', {
          name: `Bench Patient ${i}`,
          email: `bench-${i}-${Date.now()}@example.com`,
          password: 'bench password 123',
        });
        return client;
      }),
    );
  }

  private async bookOne(): Promise<{ id: string | null; ms: number }> {
    const n = this.sequence++;
    const patient = this.patients[n % this.patients.length]!;
    const eligible = n % 10 < 3;
    const started = performance.now();
    try {
      const res = await patient.request(
        'POST',
        '/api/bookings',
        benchBooking(n, eligible ? this.serviceIds.dear : [this.serviceIds.cheap]),
      );
      const body = (await res.json()) as { booking?: { id: string } };
      if (res.status !== 202) this.lastError = `${res.status} ${JSON.stringify(body)}`;
      return { id: res.status === 202 ? (body.booking?.id ?? null) : null, ms: performance.now() - started };
    } catch (error) {
      this.lastError = String(error);
      return { id: null, ms: performance.now() - started };
    }
  }

  private async counters(): Promise<{
    commits: number;
    inserted: number;
    updated: number;
    statements: Map<string, number>;
    redisCommands: Map<string, number>;
    redisReads: number;
  }> {
    const { rows } = await this.pool.query<{ c: string; i: string; u: string }>(
      'SELECT xact_commit AS c, tup_inserted AS i, tup_updated AS u FROM pg_stat_database WHERE datname = current_database()',
    );
    const statements = new Map<string, number>();
    for (const metric of parseBusMetrics(await this.redis.hgetall(busMetricsKey(this.prefix))))
      if (metric.name === 'statements') statements.set(metric.group, metric.value);
    const redisCommands = new Map<string, number>();
    for (const [, command, calls] of (await this.redis.info('commandstats')).matchAll(
      /^cmdstat_([\w|]+):calls=(\d+)/gm,
    ))
      redisCommands.set(command!.toUpperCase(), Number(calls));
    const redisReads = Number(/^total_reads_processed:(\d+)/m.exec(await this.redis.info('stats'))?.[1] ?? 0);
    return {
      commits: Number(rows[0]!.c),
      inserted: Number(rows[0]!.i),
      updated: Number(rows[0]!.u),
      statements,
      redisCommands,
      redisReads,
    };
  }

  private async cpuSnapshot(): Promise<Map<string, number>> {
    const snapshot = new Map<string, number>();
    for (const [index, system] of this.systems.entries()) {
      for (const name of [...workerNames(), 'web']) {
        if (!system.isRunning(name)) continue;
        const key = index === 0 ? name : `${name}#2`;
        snapshot.set(key, processFigures(system.pid(name)).cpuSeconds);
      }
    }
    const { rows } = await this.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    snapshot.set('postgres', postgresCpuSeconds(rows[0]!.pid));
    snapshot.set('redis', processFigures(this.redisPid).cpuSeconds);
    // This process posts the bookings and reads their outcome: shown, not counted as the system's.
    const { user, system } = process.cpuUsage();
    snapshot.set(LOAD_GENERATOR, (user + system) / 1e6);
    return snapshot;
  }

  private async terminal(ids: string[]): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM booking.bookings WHERE id = ANY($1) AND status <> 'PENDING'",
      [ids],
    );
    return Number(rows[0]!.n);
  }

  async step(rate: number, instances: number, gatewayDelayMs: number): Promise<StepResult> {
    const before = await this.counters();
    const cpuBefore = await this.cpuSnapshot();
    const started = performance.now();
    const total = rate * STEP_SECONDS;
    const posts: Promise<{ id: string | null; ms: number }>[] = [];
    let pendingMid = 0;
    // Open loop: requests leave on schedule whether or not earlier ones have been answered.
    while (posts.length < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      while (posts.length < due) posts.push(this.bookOne());
      if (pendingMid === 0 && posts.length >= total / 2) pendingMid = await this.pendingCount();
      await sleep(5);
    }
    const pendingEnd = await this.pendingCount();
    const results = await Promise.all(posts);
    const ids = results.flatMap((result) => (result.id ? [result.id] : []));
    const windowEnd = started + (STEP_SECONDS + WINDOW_SECONDS) * 1000;
    let done = await this.terminal(ids);
    while (done < ids.length && performance.now() < windowEnd) {
      await sleep(100);
      done = await this.terminal(ids);
    }
    const doneInWindow = done;
    // Drain before the next step so steps do not overlap.
    const drainEnd = Date.now() + 120_000;
    while (done < ids.length && Date.now() < drainEnd) {
      await sleep(250);
      done = await this.terminal(ids);
    }
    const elapsed = (performance.now() - started) / 1000;
    const cpuAfter = await this.cpuSnapshot();
    await sleep(1_100); // pg_stat_database is flushed by backends at most once a second
    const after = await this.counters();

    const { rows } = await this.pool.query<{ ms: number }>(
      `SELECT extract(epoch FROM max(occurred_at) FILTER (WHERE type IN ('BookingConfirmed','BookingRejected','BookingFailed'))
              - min(occurred_at) FILTER (WHERE type = 'BookingRequested')) * 1000 AS ms
         FROM booking.timeline WHERE booking_id = ANY($1) GROUP BY booking_id`,
      [ids],
    );
    const saga = rows
      .map((row) => Number(row.ms))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const post = results.map((result) => result.ms).sort((a, b) => a - b);
    const cpuPercent: Record<string, number> = {};
    for (const [name, seconds] of cpuAfter)
      cpuPercent[name] = round(((seconds - (cpuBefore.get(name) ?? 0)) / elapsed) * 100);
    const bookings = Math.max(1, ids.length);
    let cpuSeconds = 0;
    for (const [name, seconds] of cpuAfter)
      if (name !== LOAD_GENERATOR) cpuSeconds += seconds - (cpuBefore.get(name) ?? 0);
    return {
      instances,
      rate,
      gatewayDelayMs,
      posted: results.length,
      postErrors: results.length - ids.length,
      doneInWindow,
      backlog: { mid: pendingMid, end: pendingEnd },
      sustained:
        ids.length === results.length &&
        doneInWindow >= 0.95 * ids.length &&
        pendingEnd <= pendingMid * 1.5 + rate,
      sagaMs: {
        p50: round(quantile(saga, 0.5)),
        p95: round(quantile(saga, 0.95)),
        p99: round(quantile(saga, 0.99)),
      },
      postMs: { p50: round(quantile(post, 0.5), 1), p99: round(quantile(post, 0.99), 1) },
      commitsPerBooking: round((after.commits - before.commits) / bookings, 1),
      statementsPerBooking: round(
        [...after.statements].reduce((sum, [group, n]) => sum + n - (before.statements.get(group) ?? 0), 0) /
          bookings,
        1,
      ),
      statementsByGroup: Object.fromEntries(
        [...after.statements].map(([group, n]) => [
          group,
          round((n - (before.statements.get(group) ?? 0)) / bookings, 1),
        ]),
      ),
      ...redisCommandsPerBooking(before.redisCommands, after.redisCommands, bookings),
      redisReadsPerBooking: round((after.redisReads - before.redisReads) / bookings, 1),
      rowsInsertedPerBooking: round((after.inserted - before.inserted) / bookings, 1),
      rowsUpdatedPerBooking: round((after.updated - before.updated) / bookings, 1),
      cpuPercent,
      cpuMsPerBooking: round((cpuSeconds * 1000) / bookings, 1),
    };
  }

  private async pendingCount(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM booking.bookings WHERE status = 'PENDING'",
    );
    return Number(rows[0]!.n);
  }

  /** Steps up through RATES from `from` until one is not sustained; the highest sustained rate. */
  async ladder(instances: number, from = 0): Promise<{ steps: StepResult[]; maxSustained: number }> {
    const steps: StepResult[] = [];
    let maxSustained = 0;
    for (const rate of RATES.filter((r) => r >= from)) {
      progress(`${instances} instance(s) per worker: ${rate} bookings/s for ${STEP_SECONDS} s`);
      const result = await this.step(rate, instances, 300);
      steps.push(result);
      progress(
        `  ${result.sustained ? 'sustained' : 'NOT sustained'}: ${result.doneInWindow}/${result.posted} in the window, backlog ${result.backlog.mid} → ${result.backlog.end}, saga p50 ${result.sagaMs.p50} ms p99 ${result.sagaMs.p99} ms`,
      );
      if (result.postErrors > 0) progress(`  ${result.postErrors} POSTs failed, the last: ${this.lastError}`);
      if (!result.sustained) break;
      maxSustained = rate;
    }
    return { steps, maxSustained };
  }

  /** A booking's id for the status-endpoint measurement, owned by the first patient. */
  async ownBooking(): Promise<{ id: string; cookie: string }> {
    const patient = this.patients[0]!;
    const res = await patient.request('GET', '/api/bookings');
    const { bookings } = (await res.json()) as { bookings: { id: string }[] };
    if (!bookings[0]) throw new Error('the first patient has no booking');
    return { id: bookings[0].id, cookie: patient.cookieHeader };
  }

  peakRss(): Record<string, number> {
    const peaks: Record<string, number> = {};
    for (const [index, system] of this.systems.entries())
      for (const name of [...workerNames(), 'web'])
        if (system.isRunning(name))
          peaks[index === 0 ? name : `${name}#2`] = round(processFigures(system.pid(name)).peakRssMb);
    return peaks;
  }
}

/** Redis commands per booking between two snapshots: in all, and the five most frequent by name. */
function redisCommandsPerBooking(
  before: Map<string, number>,
  after: Map<string, number>,
  bookings: number,
): Pick<StepResult, 'redisCommandsPerBooking' | 'redisCommandsByType'> {
  const ran = [...after]
    .map(([command, calls]) => [command, calls - (before.get(command) ?? 0)] as const)
    .filter(([, calls]) => calls > 0)
    .sort((a, b) => b[1] - a[1]);
  return {
    redisCommandsPerBooking: round(ran.reduce((sum, [, calls]) => sum + calls, 0) / bookings, 1),
    redisCommandsByType: Object.fromEntries(
      ran.slice(0, 5).map(([command, calls]) => [command, round(calls / bookings, 1)]),
    ),
  };
}

function table(steps: StepResult[]): string {
  const header =
    'inst  rate/s  delay  posted  errors  done%  saga p50/p95/p99 ms   POST p50/p99 ms  commits/bkg  stmts/bkg  ins/upd per bkg  CPU ms/bkg  sustained';
  const lines = steps.map((s) =>
    [
      String(s.instances).padStart(4),
      String(s.rate).padStart(7),
      `${s.gatewayDelayMs}`.padStart(6),
      String(s.posted).padStart(7),
      String(s.postErrors).padStart(7),
      `${round((s.doneInWindow / Math.max(1, s.posted - s.postErrors)) * 100)}`.padStart(6),
      `${s.sagaMs.p50}/${s.sagaMs.p95}/${s.sagaMs.p99}`.padStart(20),
      `${s.postMs.p50}/${s.postMs.p99}`.padStart(16),
      String(s.commitsPerBooking).padStart(12),
      String(s.statementsPerBooking).padStart(10),
      `${s.rowsInsertedPerBooking}/${s.rowsUpdatedPerBooking}`.padStart(16),
      String(s.cpuMsPerBooking).padStart(11),
      s.sustained ? '  yes' : '  NO',
    ].join(' '),
  );
  return [header, ...lines].join('\n');
}

async function main(): Promise<void> {
  progress('building (npm run build)');
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const environment = await createTestEnvironment();
  useEnvironment(environment);
  const db = createDb(environment.databaseUrl, 2);
  const pool = new pg.Pool({ connectionString: environment.databaseUrl, max: 4 });
  const redis = new Redis(environment.redisUrl);
  const systems: SagaSystem[] = [];
  try {
    await migrateAndSeed(db);
    const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? 0);

    progress('ceilings: PostgreSQL commits, Redis round trips');
    const ceilings = {
      pgCommitsPerSec16: round(await pgCommitsPerSec(environment.databaseUrl)),
      redisRoundTripsPerSec1: round(await redisRoundTripsPerSec(environment.redisUrl, 1)),
      redisRoundTripsPerSec16: round(await redisRoundTripsPerSec(environment.redisUrl, 16)),
      expressOneQueryReqPerSec: 0,
      expressSessionsOneQueryReqPerSec: 0,
    };
    const floorRun = (stages: FloorStages) => {
      progress(`the saga's ${CRITICAL_PATH_HOPS} hops alone (${stages}), at 100/s and 300/s`);
      return busFloor(environment, {
        stages,
        rates: [100, 300],
        seconds: quick ? 3 : 5,
        warmUpSeconds: quick ? 5 : 20,
      }) as Promise<[FloorStep, FloorStep]>;
    };
    const floor = await floorRun('bus');
    const [floor100, floor300] = floor;
    const handFloor = await floorRun('by hand');
    const [hand100, hand300] = handFloor;

    const env = {
      LOG_LEVEL: 'info',
      SIGNUP_RATE_LIMIT: '100000',
      LOGIN_RATE_LIMIT: '100000',
      LOGIN_ADDRESS_RATE_LIMIT: '100000',
      BOOKING_RATE_LIMIT: '1000000',
      BOOKING_PENDING_LIMIT: '1000000',
      SAGA_DEADLINE_MS: '600000',
    };
    progress('starting the system (one process per Procfile line)');
    const first = await SagaSystem.start({ compiled: true, env });
    systems.push(first);
    const bench = new Bench(first.url!, pool, redisPid, redis, environment.redisPrefix);
    bench.systems.push(first);
    await bench.prepare();

    // Every discount-eligible booking gets its discount: the quota does not cut the saga short.
    const admin = {
      email: `bench-admin-${Date.now()}@example.com`,
      password: 'bench admin 123',
      name: 'Admin',
    };
    await upsertAdmin(db, admin);
    const adminClient = new ApiClient(first.url!);
    await adminClient.enter('/api/auth/login', admin);
    const put = await adminClient.request('PUT', '/api/admin/config', { dailyDiscountQuota: 1_000_000 });
    if (put.status !== 200) throw new Error(`config answered ${put.status}: ${await put.text()}`);

    // Steady state, as a system that has run for a while: connections open, plans prepared, and the
    // JIT's optimised code (a worker's CPU per event falls by a fifth or more over its first thousand).
    progress('warming up');
    for (let i = 0; i < (quick ? 1 : 2); i++) await bench.step(50, 1, 300);

    const one = await bench.ladder(1);
    progress('the saga without the gateway: 100 bookings/s, PAYMENT_DELAY_MS=0');
    await first.restart('payment', { PAYMENT_DELAY_MS: '0' });
    await bench.step(50, 1, 0); // the restarted worker's warm-up
    const overhead = await bench.step(100, 1, 0);
    await first.restart('payment', { PAYMENT_DELAY_MS: '300' });

    progress('the status endpoint and its ceiling, 32 in flight');
    const own = await bench.ownBooking();
    const statusRun = await requestsPerSecWithCpu(
      `${first.url}/api/bookings/${own.id}/status`,
      first.pid('web'),
      {
        headers: { cookie: own.cookie },
        seconds: quick ? 3 : 5,
      },
    );
    const statusReqPerSec = round(statusRun.reqPerSec);
    const express = await expressCeiling(environment.databaseUrl, own.id, quick ? 3 : 5);
    // CPU per request of the process answering: the web, and the ceiling's for each of its two.
    const statusCpuMicros = {
      web: round(statusRun.cpuMicros),
      ceiling: round(express.cpuMicros.oneQuery),
      sessionStack: round(express.cpuMicros.withSessions),
    };
    ceilings.expressOneQueryReqPerSec = round(express.oneQuery);
    ceilings.expressSessionsOneQueryReqPerSec = round(express.withSessions);

    let two: Awaited<ReturnType<Bench['ladder']>> = { steps: [], maxSustained: 0 };
    if (!oneInstanceOnly) {
      progress('a second instance of every worker');
      const second = await SagaSystem.start({
        compiled: true,
        env,
        processes: workerNames(),
        envFor: Object.fromEntries(workerNames().map((name) => [name, { CONSUMER_NAME: `bench2-${name}` }])),
      });
      systems.push(second);
      bench.systems.push(second);
      two = await bench.ladder(2, Math.max(RATES[0]!, one.maxSustained));
    }
    const peakRssMb = bench.peakRss();

    const maxSustained = Math.max(one.maxSustained, two.maxSustained);
    const statusRatio = round(statusReqPerSec / ceilings.expressOneQueryReqPerSec, 2);
    // The session stack alone (express-session in Redis, passport) leaves the endpoint at most this much.
    const sessionStackRatio = round(
      ceilings.expressSessionsOneQueryReqPerSec / ceilings.expressOneQueryReqPerSec,
      2,
    );
    const sustainedSteps = [...one.steps, ...two.steps].filter((s) => s.sustained);
    // Commits per booking fall as load rises (a read batch commits together): taken at the top sustained
    // step. When none was sustained (a slow machine, or one busy with something else), at the first step.
    const top =
      sustainedSteps.toSorted((a, b) => a.rate - b.rate || a.instances - b.instances).at(-1) ?? one.steps[0]!;
    const atTop = `at ${top.rate}/s${top.sustained ? '' : ' (not sustained)'}`;
    const commitsPerBooking = top.commitsPerBooking;
    // What the machine allows at the CPU the system spends per booking, when every core does nothing else.
    const cores = availableParallelism();
    const cpuMsPerBooking = top.cpuMsPerBooking;
    const cpuLimitPerSec = round((cores * 1000) / cpuMsPerBooking);
    // The cores 100 bookings/s without the gateway need, at what a booking cost in that step; with the
    // load generator's share, how busy that left the machine (a saga queues long before 100 %).
    const overheadCores = round((overhead.cpuMsPerBooking * overhead.rate) / 1000, 2);
    const loadCores = (overhead.cpuPercent[LOAD_GENERATOR] ?? 0) / 100;
    const busy = round(((overheadCores + loadCores) / cores) * 100);
    const overheadLimit =
      `; the system needs ${overheadCores} cores of CPU there (${overhead.cpuMsPerBooking} ms per booking), ` +
      `the load generator ${round(loadCores, 2)}: together ${busy} % of what ${cores} cores give, so the saga queues`;
    const saturated = busy >= 80;
    const bare = `the bus alone (${CRITICAL_PATH_HOPS} hops, no business work)`;
    // A commit of a booking is a hop or more: a delivery read, its transaction, its publication and
    // ack. Hops written by hand (one transaction per event, as the participants commit) give what
    // each costs here with nothing else around it.
    const handHopMs = hand300.cpuMsPerChain / CRITICAL_PATH_HOPS;
    const leastAt300 = round(handHopMs * commitsPerBooking, 1);
    const floorLimit =
      `; ${bare} ${floor300.sustained ? 'sustains' : 'does not sustain'} 300/s here ` +
      `(${floor300.cpuMsPerChain} ms CPU per booking); hops written by hand cost ${round(handHopMs, 2)} ms each at 300/s, ` +
      `so a booking's ${commitsPerBooking} commits, one such hop each, come to ${leastAt300} ms, ` +
      `${leastAt300 > (cores * 1000) / 300 ? 'more than' : 'within'} the ${round((cores * 1000) / 300, 1)} ms ${cores} cores give a booking at 300/s`;
    const floorLatency =
      `; ${bare} at 100/s: p50 ${floor100.latencyMs.p50} ms, p99 ${floor100.latencyMs.p99} ms` +
      ` (hops written by hand: ${hand100.latencyMs.p50} / ${hand100.latencyMs.p99} ms)`;
    const workerRss = Math.max(
      0,
      ...Object.entries(peakRssMb)
        .filter(([name]) => !name.startsWith('web'))
        .map(([, mb]) => mb),
    );
    const webRss = peakRssMb.web ?? 0;
    const targets = [
      {
        target: '≥ 300 bookings/s sustained, 300 ms gateway delay',
        measured:
          `${maxSustained}/s; CPU per booking ${cpuMsPerBooking} ms (all processes) ${atTop}: ` +
          `${cores} cores allow at most ${cpuLimitPerSec}/s${floorLimit}`,
        met: maxSustained >= 300,
      },
      {
        target: 'saga p50 ≤ 20 ms at 100/s, no gateway delay',
        measured: `${overhead.sagaMs.p50} ms${saturated ? overheadLimit : ''}${floorLatency}`,
        met: overhead.sagaMs.p50 <= 20,
      },
      {
        target: 'saga p99 ≤ 150 ms at 100/s, no gateway delay',
        measured: `${overhead.sagaMs.p99} ms${saturated ? overheadLimit : ''}${floorLatency}`,
        met: overhead.sagaMs.p99 <= 150,
      },
      {
        target: 'status endpoint ≥ 85 % of Express + one query',
        measured:
          `${round(statusRatio * 100)} %` +
          (sessionStackRatio < 0.85
            ? `; the session stack alone, with the same one query, reaches ${round(sessionStackRatio * 100)} %`
            : ''),
        met: statusRatio >= 0.85,
      },
      {
        target: '≤ 12 commits per booking',
        measured: `${commitsPerBooking} ${atTop} (${top.statementsPerBooking} statements)`,
        met: commitsPerBooking <= 12,
      },
      { target: 'worker RSS ≤ 150 MB', measured: `${workerRss} MB`, met: workerRss <= 150 },
      { target: 'web RSS ≤ 200 MB', measured: `${webRss} MB`, met: webRss <= 200 },
    ];
    const report = {
      ceilings,
      steps: [...one.steps, ...two.steps],
      maxSustained: { oneInstance: one.maxSustained, twoInstances: two.maxSustained },
      cpuLimit: {
        cores,
        cpuMsPerBooking,
        bookingsPerSec: cpuLimitPerSec,
        coresAt100PerSec: overheadCores,
        machineBusyAt100PerSec: busy,
      },
      overhead,
      busFloor: floor,
      handWrittenFloor: handFloor,
      status: { reqPerSec: statusReqPerSec, ratioToCeiling: statusRatio, sessionStackRatio, statusCpuMicros },
      peakRssMb,
      targets,
    };
    if (json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      const out = (line = '') => process.stdout.write(`${line}\n`);
      out('\nCeilings of this machine, measured in this run');
      out(`  PostgreSQL durable commits/s, 16 clients   ${ceilings.pgCommitsPerSec16}`);
      out(
        `  Redis round trips/s, 1 client / 16 in flight  ${ceilings.redisRoundTripsPerSec1} / ${ceilings.redisRoundTripsPerSec16}`,
      );
      out(`  Express + one pg query req/s, 32 in flight  ${ceilings.expressOneQueryReqPerSec}`);
      out(
        `  the same behind express-session (Redis) + passport, logged in  ${ceilings.expressSessionsOneQueryReqPerSec}`,
      );
      const floorLines = (f: FloorStep) =>
        out(
          `  ${f.rate}/s: ${f.cpuMsPerChain} ms CPU per booking (stages ${f.cpuMsPerChainBy.stages}, ` +
            `PostgreSQL ${f.cpuMsPerChainBy.postgres}, Redis ${f.cpuMsPerChainBy.redis}; and ${f.driverCpuMsPerChain} ms for the web's commit), ` +
            `p50 ${f.latencyMs.p50} ms, p99 ${f.latencyMs.p99} ms, ${f.doneInWindow}/${f.posted} in the window, ` +
            `${f.sustained ? 'sustained' : 'NOT sustained'}`,
        );
      out(
        `\nThe saga's ${CRITICAL_PATH_HOPS} hops alone (a process each; inbox, outbox, XADD, XACK; no business work)`,
      );
      out('  on the bus');
      floor.forEach(floorLines);
      out('  written by hand (one round trip per transaction; no retries, claims, validation or logging)');
      handFloor.forEach(floorLines);
      out('\nOpen-loop steps (30 % discount-eligible)');
      out(table([...one.steps, ...two.steps, overhead]));
      out('\nCPU % per process, last sustained step of each kind (or the first, when none was)');
      for (const s of [
        one.steps.filter((x) => x.sustained).at(-1) ?? one.steps[0],
        overhead,
        two.steps.filter((x) => x.sustained).at(-1),
      ]) {
        if (!s) continue;
        out(
          `  ${s.instances} inst ${s.rate}/s delay ${s.gatewayDelayMs}: ${Object.entries(s.cpuPercent)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        );
        out(
          `    statements per booking: ${Object.entries(s.statementsByGroup)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        );
        out(
          `    Redis commands per booking: ${s.redisCommandsPerBooking} (${Object.entries(
            s.redisCommandsByType,
          )
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}, …), in ${s.redisReadsPerBooking} round trips`,
        );
      }
      out(
        `\nStatus endpoint: ${statusReqPerSec} req/s at 32 in flight (${round(statusRatio * 100)} % of the ceiling; ` +
          `${round((statusReqPerSec / ceilings.expressSessionsOneQueryReqPerSec) * 100)} % of the same behind the session stack); ` +
          `CPU per request: the web ${statusCpuMicros.web} µs, the ceiling ${statusCpuMicros.ceiling} µs, ` +
          `behind the session stack ${statusCpuMicros.sessionStack} µs`,
      );
      out(
        `Peak RSS MB: ${Object.entries(peakRssMb)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      );
      out('\nTargets');
      for (const t of targets) out(`  ${t.met ? 'met    ' : 'NOT met'}  ${t.target}: ${t.measured}`);
    }
  } finally {
    await Promise.allSettled(systems.map((system) => system.stop()));
    redis.disconnect();
    await pool.end();
    await db.destroy();
    await environment.drop();
  }
}

await main();
