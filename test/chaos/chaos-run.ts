// The fault-injection run: the Procfile's processes (two instances of every worker) against a
// database, an append-only-file Redis and an SMTP server of its own, booking every kind of booking
// while workers are SIGKILLed, Redis restarts (once losing its AOF's tail), PostgreSQL backends are
// terminated, SMTP goes away, a poison message arrives and stream entries vanish. Then it checks
// what the clinic promises (README, "Delivery guarantees") and reports the figures.
import { randomInt, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { sql, type RawBuilder } from 'kysely';
import { Redis } from 'ioredis';
import { SMTPServer } from 'smtp-server';
import { streamKey } from '../../lib/bus/redis.js';
import { istDate } from '../../lib/clock.js';
import { createUser } from '../../lib/identity/user-service.js';
import { buildPatient, buildUser, createService } from '../support/factories.js';
import { Client } from '../support/http.js';
import { isolatedEnvironment } from '../support/isolated-env.js';
import { RedisServer } from '../support/redis-server.js';
import { SagaSystem, workerNames } from '../support/system.js';

export interface ChaosOptions {
  bookings: number;
  /** Bookings being submitted at once. */
  concurrency?: number;
  /** How long the faults go on (at least as long as the bookings are being submitted). */
  faultWindowMs: number;
  killEveryMs?: number;
  /** Run the build (`npm run build` done) exactly as the Procfile says, instead of the sources. */
  compiled?: boolean;
  log?: (line: string) => void;
  /** How long the promises may take to hold once the faults stop (5 minutes unless set). */
  settleMs?: number;
}

export interface ChaosReport {
  bookings: number;
  byStatus: Record<string, number>;
  byKind: Record<string, number>;
  faults: Record<string, number>;
  checks: { name: string; ok: boolean; detail: string }[];
  violations: string[];
  /** From the end of the faults to the last booking finishing. */
  longestSettleMs: number;
  /** From the end of the faults to every check holding. */
  allHeldAfterMs: number;
  /** The longest saga, request to terminal status. */
  longestSagaMs: number;
  confirmationResends: number;
  durationMs: number;
}

type Kind = 'discount by price' | 'discount by birthday' | 'no discount' | 'deadline passes';
const KINDS: Kind[] = [
  'discount by price',
  'discount by birthday',
  'no discount',
  'no discount',
  'deadline passes',
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A mail server the run can take away for a while (the port refuses) and bring back. */
class ChaosSmtp {
  readonly received = new Map<string, number>();
  private server: SMTPServer | null = null;
  port = 0;

  async start(): Promise<void> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, _session, callback) => {
        let body = '';
        stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
        stream.on('end', () => {
          const id = /^Message-ID:\s*<confirmation-([0-9a-f-]+)@/im.exec(body)?.[1] ?? 'unknown';
          this.received.set(id, (this.received.get(id) ?? 0) + 1);
          callback();
        });
      },
    });
    // A worker killed mid-message resets its connection: that is the run's doing, not the server's fault.
    server.on('error', () => {});
    server.listen(this.port, '127.0.0.1');
    await once(server.server, 'listening');
    this.port = (server.server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const concurrency = options.concurrency ?? 8;
  const killEveryMs = options.killEveryMs ?? 2_000;
  const started = Date.now();
  const faults: Record<string, number> = {
    'workers SIGKILLed': 0,
    'Redis restarts': 0,
    'Redis restarts losing the AOF tail': 0,
    'PostgreSQL backend terminations': 0,
    'PostgreSQL backends terminated': 0,
    'SMTP outages (8 s)': 0,
    'stream entries dropped': 0,
    'poison messages': 0,
  };

  const env = await isolatedEnvironment();
  const redisServer = await RedisServer.start();
  const smtp = new ChaosSmtp();
  await smtp.start();
  const db = env.db;
  let system: SagaSystem | null = null;
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  // Down on purpose now and then: its reconnects are expected.
  redis.on('error', () => {});
  try {
    const services = {
      cheap: await createService(db, { pricePaise: 40_000, name: 'Blood test' }),
      dear: await createService(db, { pricePaise: 150_000, name: 'MRI scan' }),
    };
    // Eligible bookings outnumber the day's discounts: the quota runs out. Committed before any
    // worker starts, so the participants take it from the configuration at start.
    const quotaLimit = Math.max(5, Math.floor(options.bookings * 0.25));
    await db
      .updateTable('settings.config')
      .set({ daily_discount_quota: quotaLimit, version: sql<number>`version + 1` })
      .execute();

    system = await SagaSystem.start({
      instances: 2,
      compiled: options.compiled ?? false,
      readyTimeoutMs: 90_000,
      env: {
        DATABASE_URL: env.databaseUrl,
        REDIS_URL: redisServer.url,
        REDIS_PREFIX: env.redisPrefix,
        SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        PAYMENT_SIMULATION_MODE: 'random',
        PAYMENT_FAILURE_RATE: '0.15',
        PAYMENT_DELAY_MS: '100',
        BUS_CLAIM_IDLE_MS: '5000',
        SAGA_REDRIVE_AFTER_MS: '5000',
        SAGA_SWEEP_INTERVAL_MS: '500',
        // A few patients book everything here: the per-patient limits are for people, not this run.
        BOOKING_RATE_LIMIT: '1000000',
        BOOKING_PENDING_LIMIT: '1000000',
        // The web and two instances of every worker share the connection budget.
        DATABASE_PROCESSES: String(workerNames().length * 2 + 1),
      },
    });
    const sys = system;
    const workers = sys.names().filter((name) => name !== 'web');
    log(
      `chaos: ${sys.names().length} processes up in ${Date.now() - started} ms; ${options.bookings} bookings`,
    );

    const clients: Client[] = [];
    for (let i = 0; i < concurrency; i++) {
      const user = buildUser();
      await createUser(db, user);
      const client = new Client(sys.url!);
      await retrying(() => client.login(user));
      clients.push(client);
    }

    // The bookings, submitted as a careful client does: 503 → wait and retry with the same key.
    const accepted: { id: string; kind: Kind }[] = [];
    let next = 0;
    const submit = async (client: Client) => {
      while (next < options.bookings) {
        const i = next++;
        const kind = KINDS[i % KINDS.length]!;
        const patient =
          kind === 'discount by birthday'
            ? buildPatient({ gender: 'female', dateOfBirth: `1990-${istDate(new Date()).slice(5)}` })
            : buildPatient({ gender: 'male' });
        const serviceIds = [kind === 'discount by price' ? services.dear.id : services.cheap.id];
        const key = randomUUID();
        const res = await retrying(async () => {
          const answer = await client.post(
            '/api/bookings',
            { patient, serviceIds },
            { 'Idempotency-Key': key },
          );
          if (answer.status !== 202) throw new Error(`booking answered ${answer.status}`);
          return answer;
        });
        const id = (res.body as { booking: { id: string } }).booking.id;
        accepted.push({ id, kind });
        // A saga that runs late: its deadline passes while it is on its way.
        if (kind === 'deadline passes')
          await retrying(() =>
            db
              .updateTable('booking.bookings')
              .set({ deadline_at: new Date() })
              .where('id', '=', id)
              .execute(),
          );
      }
    };

    // Faults, while the bookings go in.
    const faultsStart = Date.now();
    const at = (fraction: number) => faultsStart + options.faultWindowMs * fraction;
    const oneOff: { when: number; name: string; run: () => Promise<void> }[] = [
      { when: at(0.1), name: 'poison', run: () => poison() },
      { when: at(0.2), name: 'redis restart', run: () => restartRedis(false) },
      { when: at(0.3), name: 'terminate backends', run: () => terminateBackends() },
      { when: at(0.45), name: 'redis loses its tail', run: () => restartRedis(true) },
      { when: at(0.55), name: 'smtp down', run: () => smtpOutage() },
      { when: at(0.7), name: 'terminate backends', run: () => terminateBackends() },
    ];
    const relaunches = new Set<Promise<void>>();
    let poisonEntry: string | null = null;

    async function poison() {
      poisonEntry = await redis.xadd(
        streamKey(env.redisPrefix, 'booking'),
        '*',
        'type',
        'BookingRequested',
        'event',
        '{"this is":"not an event"',
      );
      faults['poison messages']!++;
    }
    async function restartRedis(loseTail: boolean) {
      await redisServer.kill();
      if (loseTail) redisServer.truncateTail(4_096);
      await sleep(1_000);
      await redisServer.launch();
      faults[loseTail ? 'Redis restarts losing the AOF tail' : 'Redis restarts']!++;
    }
    async function terminateBackends() {
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM (
          SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()
        ) terminated`.execute(db);
      faults['PostgreSQL backend terminations']!++;
      faults['PostgreSQL backends terminated']! += rows[0]?.n ?? 0;
    }
    async function smtpOutage() {
      await smtp.stop();
      await sleep(8_000);
      await smtp.start();
      faults['SMTP outages (8 s)']!++;
    }
    async function dropEntries() {
      const name = ['booking', 'pricing', 'quota', 'payment'][randomInt(4)]!;
      const recent = (await redis.xrevrange(streamKey(env.redisPrefix, name), '+', '-', 'COUNT', 50)) as [
        string,
        string[],
      ][];
      const doomed = recent[randomInt(Math.max(recent.length, 1))]?.[0];
      if (
        doomed &&
        doomed !== poisonEntry &&
        (await redis.xdel(streamKey(env.redisPrefix, name), doomed)) === 1
      )
        faults['stream entries dropped']!++;
    }
    const starting = new Set<string>();
    async function killOne() {
      // A process still starting is left to start: a platform restarts a crashed dyno, not a booting one.
      const running = workers.filter((name) => sys.isRunning(name) && !starting.has(name));
      const victim = running[randomInt(Math.max(running.length, 1))];
      if (!victim) return;
      await sys.kill(victim, 'SIGKILL');
      faults['workers SIGKILLed']!++;
      // Restarted as a platform restarts a crashed dyno, a moment later.
      starting.add(victim);
      const relaunch = sleep(300)
        .then(() => sys.launch(victim))
        .catch((error: Error) => log(`chaos: relaunch of ${victim} failed: ${error.message}`))
        .finally(() => starting.delete(victim));
      relaunches.add(relaunch);
      void relaunch.finally(() => relaunches.delete(relaunch));
    }

    let loadDone = false;
    const load = Promise.all(clients.map((client) => submit(client))).finally(() => (loadDone = true));
    let lastKill = Date.now();
    let lastDrop = Date.now();
    const pendingFaults = new Set<Promise<void>>();
    while (!loadDone || Date.now() < faultsStart + options.faultWindowMs || oneOff.length > 0) {
      const now = Date.now();
      const due = oneOff.filter((fault) => fault.when <= now);
      for (const fault of due) {
        oneOff.splice(oneOff.indexOf(fault), 1);
        log(`chaos: ${fault.name} at ${Math.round((now - faultsStart) / 1000)} s`);
        const work = fault
          .run()
          .catch((error: Error) => log(`chaos: ${fault.name} failed: ${error.message}`));
        pendingFaults.add(work);
        void work.finally(() => pendingFaults.delete(work));
      }
      if (now - lastKill >= killEveryMs) {
        lastKill = now;
        await killOne().catch((error: Error) => log(`chaos: kill failed: ${error.message}`));
      }
      if (now - lastDrop >= 3_000) {
        lastDrop = now;
        await dropEntries().catch(() => {});
      }
      await sleep(100);
    }
    await Promise.all(pendingFaults);
    await load;
    await Promise.all(relaunches);
    for (const name of workers) if (!sys.isRunning(name)) await sys.launch(name);
    const faultsStopped = Date.now();
    log(`chaos: faults stopped after ${Math.round((faultsStopped - faultsStart) / 1000)} s; settling`);

    // Settling: every booking terminal and every promise kept, or the time is up.
    let checks = await evaluate();
    const settleDeadline = faultsStopped + (options.settleMs ?? 5 * 60_000);
    while (checks.some((check) => !check.ok) && Date.now() < settleDeadline) {
      await sleep(1_000);
      checks = await evaluate();
    }
    const allHeldAfterMs = Date.now() - faultsStopped;
    const { rows: last } = await sql<{ at: Date | null }>`
      SELECT max(finished_at) AS at FROM booking.bookings`.execute(db);
    const longestSettleMs = Math.max(0, (last[0]?.at?.getTime() ?? faultsStopped) - faultsStopped);
    const { rows: longest } = await sql<{ ms: number | null }>`
      SELECT max(extract(epoch FROM finished_at - created_at) * 1000)::int AS ms FROM booking.bookings`.execute(
      db,
    );

    // Stopped as the platform stops it: every process must exit 0 on SIGTERM.
    let stopProblem: string | null = null;
    try {
      await sys.stop();
    } catch (error) {
      stopProblem = (error as Error).message;
    }
    system = null;
    const crashes = sys.crashed();
    checks.push({
      name: 'no process crashed',
      ok: crashes.length === 0,
      detail: crashes.length === 0 ? 'none' : JSON.stringify(crashes),
    });
    checks.push({
      name: 'every process exits 0 on SIGTERM',
      ok: !stopProblem,
      detail: stopProblem ?? `all ${sys.names().length}`,
    });

    const byStatus = await countBy(
      sql<{
        key: string;
        n: number;
      }>`SELECT status AS key, count(*)::int AS n FROM booking.bookings GROUP BY 1`,
    );
    const byKind: Record<string, number> = {};
    for (const { kind } of accepted) byKind[kind] = (byKind[kind] ?? 0) + 1;
    const resends = [...smtp.received.values()].reduce((sum, n) => sum + n - 1, 0);
    const report: ChaosReport = {
      bookings: accepted.length,
      byStatus,
      byKind,
      faults,
      checks,
      violations: checks.filter((check) => !check.ok).map((check) => `${check.name}: ${check.detail}`),
      longestSettleMs,
      allHeldAfterMs,
      longestSagaMs: longest[0]?.ms ?? 0,
      confirmationResends: resends,
      durationMs: Date.now() - started,
    };
    return report;

    async function countBy(query: RawBuilder<{ key: string; n: number }>): Promise<Record<string, number>> {
      const { rows } = await query.execute(db);
      return Object.fromEntries(rows.map((row) => [row.key, row.n]));
    }

    async function evaluate(): Promise<{ name: string; ok: boolean; detail: string }[]> {
      const one = async (query: RawBuilder<{ n: number }>) =>
        Number((await query.execute(db)).rows[0]?.n ?? 0);
      const pending = await one(
        sql<{ n: number }>`SELECT count(*)::int AS n FROM booking.bookings WHERE status = 'PENDING'`,
      );
      const kept = await one(sql<{ n: number }>`
        SELECT count(*)::int AS n FROM booking.bookings b JOIN gateway.charges c ON c.idempotency_key = b.id::text
        WHERE b.status <> 'CONFIRMED' AND c.status = 'succeeded'`);
      const unpaid = await one(sql<{ n: number }>`
        SELECT count(*)::int AS n FROM booking.bookings b
        LEFT JOIN gateway.charges c ON c.idempotency_key = b.id::text
        WHERE b.status = 'CONFIRMED'
          AND (c.status IS DISTINCT FROM 'succeeded' OR c.amount_paise IS DISTINCT FROM b.final_paise)`);
      const refundedTwice = await one(sql<{ n: number }>`
        SELECT count(*)::int AS n FROM (
          SELECT booking_id FROM audit.entries WHERE type = 'PaymentRefunded' GROUP BY 1 HAVING count(*) > 1
        ) twice`);
      const used = await one(sql<{ n: number }>`SELECT coalesce(sum(used), 0)::int AS n FROM quota.usage`);
      const discounted = await one(sql<{ n: number }>`
        SELECT count(*)::int AS n FROM booking.bookings WHERE status = 'CONFIRMED' AND discount_applied IS TRUE`);
      const reservedNotConfirmed = await one(sql<{ n: number }>`
        SELECT count(*)::int AS n FROM quota.reservations r LEFT JOIN booking.bookings b ON b.id = r.booking_id
        WHERE r.status = 'reserved' AND (b.id IS NULL OR NOT (b.status = 'CONFIRMED' AND b.discount_applied IS TRUE))`);
      const quotaTrail = async () =>
        JSON.stringify(
          (
            await sql`
              SELECT b.id, b.status, b.discount_applied, r.status AS reservation, r.day,
                (SELECT string_agg(type, ',' ORDER BY id) FROM audit.entries a WHERE a.booking_id = b.id) AS trail
              FROM booking.bookings b FULL JOIN quota.reservations r ON r.booking_id = b.id
              WHERE coalesce(r.status = 'reserved', false)
                <> coalesce(b.status = 'CONFIRMED' AND b.discount_applied IS TRUE, false)
              LIMIT 5`.execute(db)
          ).rows.concat(
            (
              await sql`
                SELECT u.day, u.used, (SELECT count(*) FROM quota.reservations r
                  WHERE r.day = u.day AND r.status = 'reserved')::int AS reserved
                FROM quota.usage u`.execute(db)
            ).rows,
          ),
        );
      const releasedTwice = await one(sql<{ n: number }>`
        SELECT count(*)::int AS n FROM (
          SELECT booking_id FROM audit.entries WHERE type = 'DiscountQuotaReleased' GROUP BY 1 HAVING count(*) > 1
        ) twice`);
      const confirmed = await db
        .selectFrom('booking.bookings')
        .select('id')
        .where('status', '=', 'CONFIRMED')
        .execute();
      const notEmailed = confirmed.filter(({ id }) => !smtp.received.has(id)).length;
      const confirmedIds = new Set(confirmed.map(({ id }) => id));
      const emailedNotConfirmed = [...smtp.received.keys()].filter((id) => !confirmedIds.has(id)).length;
      const letters = await db
        .selectFrom('bus.dead_letters')
        .select(['entry_id', 'consumer_group', 'error'])
        .execute();
      const unexpectedLetters = letters.filter((letter) => letter.entry_id !== poisonEntry);
      return [
        { name: 'every booking terminal', ok: pending === 0, detail: `${pending} pending` },
        {
          name: 'at most one charge per booking, none kept for a booking that did not confirm',
          ok: kept === 0 && refundedTwice === 0,
          detail: `${kept} kept, ${refundedTwice} refunded twice`,
        },
        {
          name: 'every confirmed booking charged its final price once',
          ok: unpaid === 0,
          detail: `${unpaid} not`,
        },
        {
          name: "the day's quota used = discounted confirmations",
          ok: used === discounted && reservedNotConfirmed === 0,
          detail:
            `used ${used}, discounted confirmations ${discounted}, reservations held otherwise ${reservedNotConfirmed}` +
            (used === discounted && reservedNotConfirmed === 0 ? '' : `: ${await quotaTrail()}`),
        },
        {
          name: 'each reserved-then-failed booking released once',
          ok: releasedTwice === 0,
          detail: `${releasedTwice} twice`,
        },
        {
          name: 'each confirmed booking emailed (one Message-ID), no one else',
          ok: notEmailed === 0 && emailedNotConfirmed === 0,
          detail: `${notEmailed} not emailed, ${emailedNotConfirmed} emailed without a confirmation`,
        },
        {
          name: 'no dead letter but the poison message',
          ok: unexpectedLetters.length === 0 && (poisonEntry === null || letters.length > 0),
          detail:
            unexpectedLetters.length === 0
              ? `${letters.length} for the poison entry`
              : JSON.stringify(unexpectedLetters.slice(0, 5)),
        },
      ];
    }
  } finally {
    await system?.stop().catch(() => {});
    redis.disconnect();
    await smtp.stop();
    await redisServer.stop();
    await env.drop();
  }
}

/** Retries what fails while a dependency is down (503, a refused connection), up to two minutes. */
async function retrying<T>(work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(Math.min(100 * attempt, 1_000));
    }
  }
}

export function formatReport(report: ChaosReport): string {
  const lines = [
    `bookings: ${report.bookings} (${Object.entries(report.byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')})`,
    `outcomes: ${Object.entries(report.byStatus)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    `faults: ${Object.entries(report.faults)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    ...report.checks.map((check) => `${check.ok ? 'held' : 'VIOLATED'}: ${check.name} (${check.detail})`),
    `longest settle after the faults stopped: ${(report.longestSettleMs / 1000).toFixed(1)} s; every check held after ${(report.allHeldAfterMs / 1000).toFixed(1)} s`,
    `longest saga (request to terminal status): ${(report.longestSagaMs / 1000).toFixed(1)} s`,
    `confirmation emails sent again with the same Message-ID (crash between send and commit): ${report.confirmationResends}`,
    `violations: ${report.violations.length}`,
    `run took ${(report.durationMs / 1000).toFixed(0)} s`,
  ];
  return lines.join('\n');
}
