// The status endpoint against its ceiling, and the web's memory: `npm run bench:status [-- --rounds N]
// [-- --bookings RATE] [-- --json]`. Builds, then starts the compiled web (and the workers, so the booking
// measured has its whole timeline) on a database and Redis prefix of its own, dropped at the end.
// Per round: `GET /api/bookings/:id/status` with the owner's session cookie at 32 in flight, then
// test/bench/ceiling-app.ts (Express + one indexed query, a process of its own) the same way; req/s
// and the answering process's CPU per request (which moves less with the machine's other load). With
// `--bookings RATE` each round first posts bookings open loop at RATE/s for 10 s, as the system
// bench's ladder does, so the web's peak RSS (VmHWM) covers writes as well as reads.
// Figures only: nothing here passes or fails.
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { createDb } from '../../lib/db/database.js';
import { SagaSystem } from '../support/system.js';
import { createTestEnvironment } from '../support/test-env.js';
import {
  ApiClient,
  benchBooking,
  expressCeiling,
  processFigures,
  requestsPerSec,
  requestsPerSecWithCpu,
  migrateAndSeed,
  useEnvironment,
} from './bench-support.js';

const argValue = (name: string, fallback: number) => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const json = process.argv.includes('--json');
const ROUNDS = argValue('--rounds', 3);
const BOOKING_RATE = argValue('--bookings', 0);
const SECONDS = argValue('--seconds', 5);
const PATIENTS = 20;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const progress = (line: string) => {
  if (!json) process.stderr.write(`  … ${line}\n`);
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (value: number, digits = 0) => Number(value.toFixed(digits));

/** Books one bench booking for the patient; its id, or null when refused. */
async function book(patient: ApiClient, serviceId: string, n: number): Promise<string | null> {
  const res = await patient.request('POST', '/api/bookings', benchBooking(n, [serviceId]));
  const body = (await res.json()) as { booking?: { id: string } };
  return res.status === 202 ? (body.booking?.id ?? null) : null;
}

const peakRssMb = (pid: number) => round(processFigures(pid).peakRssMb);

/** Posts bookings open loop (they leave on schedule whatever the answers) and waits for the answers. */
async function postBookings(patients: ApiClient[], serviceId: string, rate: number): Promise<number> {
  const started = performance.now();
  const total = rate * 10;
  const posts: Promise<string | null>[] = [];
  while (posts.length < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
    while (posts.length < due)
      posts.push(book(patients[posts.length % patients.length]!, serviceId, posts.length).catch(() => null));
    await sleep(5);
  }
  const ids = await Promise.all(posts);
  return ids.filter((id) => id === null).length;
}

async function main(): Promise<void> {
  progress('building (npm run build)');
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const environment = await createTestEnvironment();
  useEnvironment(environment);
  const db = createDb(environment.databaseUrl, 2);
  const pool = new pg.Pool({ connectionString: environment.databaseUrl, max: 2 });
  let system: SagaSystem | null = null;
  try {
    await migrateAndSeed(db);
    progress('starting the system (one process per Procfile line)');
    system = await SagaSystem.start({
      compiled: true,
      env: {
        LOG_LEVEL: 'info',
        SIGNUP_RATE_LIMIT: '100000',
        BOOKING_RATE_LIMIT: '1000000',
        BOOKING_PENDING_LIMIT: '1000000',
        SAGA_DEADLINE_MS: '600000',
      },
    });
    const base = system.url!;
    const patients = await Promise.all(
      Array.from({ length: PATIENTS }, async (_, i) => {
        const client = new ApiClient(base);
        await client.enter('/api/auth/signup', {
          name: `Bench Patient ${i}`,
          email: `bench-status-${i}-${Date.now()}@example.com`,
          password: 'bench password 123',
        });
        return client;
      }),
    );
    const webPid = system.pid('web');
    // Each sign-up hashes its password (argon2id, 19 MiB each, on the thread pool): a peak of its own.
    progress(`${PATIENTS} sign-ups at once: web VmHWM ${peakRssMb(webPid)} MB`);
    const { rows } = await pool.query<{ id: string }>(
      "SELECT id FROM catalogue.services WHERE active AND gender = 'all' ORDER BY price_paise LIMIT 1",
    );
    const serviceId = rows[0]!.id;
    const owner = patients[0]!;
    const bookingId = await book(owner, serviceId, 0);
    if (!bookingId) throw new Error('the booking to measure was refused');
    for (let waited = 0; ; waited += 100) {
      const done = await pool.query("SELECT 1 FROM booking.bookings WHERE id = $1 AND status <> 'PENDING'", [
        bookingId,
      ]);
      if (done.rowCount) break;
      if (waited > 30_000) throw new Error('the booking to measure did not finish');
      await sleep(100);
    }
    const statusUrl = `${base}/api/bookings/${bookingId}/status`;
    progress('warming up');
    await requestsPerSec(statusUrl, { headers: { cookie: owner.cookieHeader }, seconds: SECONDS });

    // CPU per request: the web's for the endpoint, the ceiling process's for each ceiling.
    type Micros = { status: number; ceiling: number; sessions: number };
    const rounds: {
      status: number;
      ceiling: number;
      sessions: number;
      postErrors: number;
      cpuMicros: Micros;
    }[] = [];
    for (let i = 1; i <= ROUNDS; i++) {
      const postErrors = BOOKING_RATE > 0 ? await postBookings(patients, serviceId, BOOKING_RATE) : 0;
      const own = await requestsPerSecWithCpu(statusUrl, webPid, {
        headers: { cookie: owner.cookieHeader },
        seconds: SECONDS,
      });
      const status = own.reqPerSec;
      const ceilings = await expressCeiling(environment.databaseUrl, bookingId, SECONDS);
      const top = ceilings.oneQuery;
      const sessions = ceilings.withSessions;
      const cpuMicros = {
        status: round(own.cpuMicros),
        ceiling: round(ceilings.cpuMicros.oneQuery),
        sessions: round(ceilings.cpuMicros.withSessions),
      };
      rounds.push({
        status: round(status),
        ceiling: round(top),
        sessions: round(sessions),
        postErrors,
        cpuMicros,
      });
      progress(
        `round ${i}: status ${round(status)} req/s, ceiling ${round(top)} req/s (${round((status / top) * 100)} %), ` +
          `behind the session stack ${round(sessions)} req/s (${round((status / sessions) * 100)} %); ` +
          `CPU per request ${cpuMicros.status} / ${cpuMicros.ceiling} / ${cpuMicros.sessions} µs; ` +
          `web VmHWM ${peakRssMb(webPid)} MB${BOOKING_RATE > 0 ? `, ${postErrors} POSTs refused` : ''}`,
      );
    }
    const report = {
      rounds,
      medianStatusReqPerSec: median(rounds.map((r) => r.status)),
      medianCeilingReqPerSec: median(rounds.map((r) => r.ceiling)),
      medianRatio: round(median(rounds.map((r) => r.status / r.ceiling)), 3),
      medianSessionStackReqPerSec: median(rounds.map((r) => r.sessions)),
      medianRatioToSessionStack: round(median(rounds.map((r) => r.status / r.sessions)), 3),
      medianCpuMicrosPerRequest: {
        status: median(rounds.map((r) => r.cpuMicros.status)),
        ceiling: median(rounds.map((r) => r.cpuMicros.ceiling)),
        sessions: median(rounds.map((r) => r.cpuMicros.sessions)),
      },
      webPeakRssMb: peakRssMb(webPid),
    };
    if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else
      process.stdout.write(
        `status ${report.medianStatusReqPerSec} req/s, ceiling ${report.medianCeilingReqPerSec} req/s: ` +
          `${round(report.medianRatio * 100)} % (median of ${ROUNDS}); behind the session stack ` +
          `${report.medianSessionStackReqPerSec} req/s: ${round(report.medianRatioToSessionStack * 100)} %; ` +
          `CPU per request: the web ${report.medianCpuMicrosPerRequest.status} µs, the ceiling ` +
          `${report.medianCpuMicrosPerRequest.ceiling} µs, behind the session stack ` +
          `${report.medianCpuMicrosPerRequest.sessions} µs; web peak RSS ${report.webPeakRssMb} MB\n`,
      );
  } finally {
    await system?.stop();
    await pool.end();
    await db.destroy();
    await environment.drop();
  }
}

await main();
