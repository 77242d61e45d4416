import { createHash, timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import client from 'prom-client';
import { busMetricsKey, parseBusMetrics, type BusMetric } from '../../lib/bus/bus-metrics.js';
import { streamKey } from '../../lib/bus/redis.js';
import type { Db } from '../../lib/db/database.js';
import { streamNames } from '../../lib/events/catalogue.js';

export interface HealthDeps {
  db: Db;
  redis: Redis;
  prefix: string;
  /** Scrapers send `Authorization: Bearer <token>`; without a token configured, /metrics is off. */
  metricsToken?: string | undefined;
  /** A scrape within this time of the last one gets the same figures. */
  cacheMs?: number;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), digest(token));
}

/**
 * The figures at most once per `cacheMs`, and one computation at a time whatever the number of
 * scrapers: a scrape storm costs the pool a few queries, not a few per scrape.
 */
function cachedFigures(compute: () => Promise<string>, cacheMs: number): () => Promise<string> {
  let last: { at: number; text: string } | null = null;
  let running: Promise<string> | null = null;
  return () => {
    if (last && Date.now() - last.at < cacheMs) return Promise.resolve(last.text);
    running ??= compute()
      .then((text) => {
        last = { at: Date.now(), text };
        return text;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref()),
  ]);
}

async function check(work: () => Promise<unknown>): Promise<'ok' | 'unavailable'> {
  try {
    await withTimeout(work(), 1_000);
    return 'ok';
  } catch {
    return 'unavailable';
  }
}

export function healthRoutes(deps: HealthDeps): Router {
  const router = Router();
  const registry = createMetrics(deps);

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const [postgres, redis] = await Promise.all([
      check(() => sql`select 1`.execute(deps.db)),
      check(() => deps.redis.ping()),
    ]);
    const ready = postgres === 'ok' && redis === 'ok';
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'unavailable', checks: { postgres, redis } });
  });

  const figures = cachedFigures(() => registry.metrics(), deps.cacheMs ?? 0);
  router.get('/metrics', async (req, res) => {
    // A scraper is no browser: errors here are always JSON.
    const refuse = (status: number, code: string, message: string) =>
      void res.status(status).json({ error: { code, message } });
    if (!deps.metricsToken)
      return refuse(404, 'not_found', 'Metrics are off: set METRICS_TOKEN to scrape them.');
    if (!bearerMatches(req.get('authorization'), deps.metricsToken)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      return refuse(401, 'unauthorized', 'Send the metrics token as a bearer token.');
    }
    res.type(registry.contentType).send(await figures());
  });

  return router;
}

/** Prometheus gauges read at scrape time from the shared state, so any web process reports the same. */
function createMetrics({ db, redis, prefix }: HealthDeps): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'clinic_web_' });

  new client.Gauge({
    name: 'clinic_bookings',
    help: 'Bookings by status (outcome).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      // The counters of migration 0005 (kept by triggers), not a count of every booking.
      const { rows } = await sql<{ status: string; count: number }>`
        SELECT status, sum(count)::bigint AS count FROM stats.booking_status GROUP BY status`.execute(db);
      this.reset();
      for (const status of ['PENDING', 'CONFIRMED', 'REJECTED', 'FAILED']) {
        this.set({ status }, Number(rows.find((row) => row.status === status)?.count ?? 0));
      }
    },
  });

  new client.Gauge({
    name: 'clinic_saga_duration_seconds',
    help: 'Time from request to terminal status, over bookings finished in the last hour.',
    labelNames: ['quantile'],
    registers: [registry],
    async collect() {
      const row = await sql<{ p50: number | null; p95: number | null; p99: number | null }>`
        select percentile_cont(0.5) within group (order by extract(epoch from finished_at - created_at)) as p50,
               percentile_cont(0.95) within group (order by extract(epoch from finished_at - created_at)) as p95,
               percentile_cont(0.99) within group (order by extract(epoch from finished_at - created_at)) as p99
        from booking.bookings where finished_at > now() - interval '1 hour'`.execute(db);
      const values = row.rows[0];
      this.reset();
      const quantiles = { p50: '0.5', p95: '0.95', p99: '0.99' } as const;
      for (const [column, quantile] of Object.entries(quantiles) as [keyof typeof quantiles, string][]) {
        this.set({ quantile }, Number(values?.[column] ?? 0));
      }
    },
  });

  new client.Gauge({
    name: 'clinic_stream_lag',
    help: 'Entries of a stream not yet delivered to a consumer group.',
    labelNames: ['stream', 'group'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const stream of streamNames) {
        const groups = (await redis.call('XINFO', 'GROUPS', streamKey(prefix, stream)).catch(() => [])) as (
          string | number
        )[][];
        for (const fields of groups) {
          const info: Record<string, unknown> = {};
          for (let i = 0; i + 1 < fields.length; i += 2) info[String(fields[i])] = fields[i + 1];
          this.set({ stream, group: String(info.name) }, Number(info.lag ?? 0) + Number(info.pending ?? 0));
        }
      }
    },
  });

  // What every process's consumer and relay counted (see lib/bus/bus-metrics.ts), summed over instances.
  const busMetrics: Record<BusMetric['name'], { name: string; help: string }> = {
    handled: { name: 'clinic_bus_events_handled_total', help: 'Events handled, by consumer group and type.' },
    duplicates: { name: 'clinic_bus_duplicates_total', help: 'Redeliveries found in the inbox and skipped.' },
    retried: { name: 'clinic_bus_retries_total', help: 'Handler failures retried with backoff.' },
    dead_lettered: { name: 'clinic_bus_dead_lettered_total', help: 'Messages sent to the dead letters.' },
    published: { name: 'clinic_outbox_published_total', help: 'Outbox rows published, by process group.' },
    statements: {
      name: 'clinic_db_statements_total',
      help: 'SQL statements sent to PostgreSQL, by process group.',
    },
    relay_lag_ms: {
      name: 'clinic_outbox_relay_lag_ms',
      help: 'Oldest row age at its publication, last flush.',
    },
  };
  for (const [key, { name, help }] of Object.entries(busMetrics)) {
    new client.Gauge({
      name,
      help,
      labelNames: ['group', 'type'],
      registers: [registry],
      async collect() {
        const metrics = parseBusMetrics(await redis.hgetall(busMetricsKey(prefix)));
        this.reset();
        for (const metric of metrics) {
          if (metric.name === key) this.set({ group: metric.group, type: metric.type }, metric.value);
        }
      },
    });
  }

  new client.Gauge({
    name: 'clinic_dead_letters',
    help: 'Dead letters waiting for an admin (not replayed).',
    registers: [registry],
    async collect() {
      const row = await db
        .selectFrom('bus.dead_letters')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('replayed_at', 'is', null)
        .executeTakeFirst();
      this.set(Number(row?.count ?? 0));
    },
  });

  new client.Gauge({
    name: 'clinic_outbox_unpublished',
    help: 'Outbox rows committed but not yet published to Redis.',
    registers: [registry],
    async collect() {
      const row = await db
        .selectFrom('bus.outbox')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('published_at', 'is', null)
        .executeTakeFirst();
      this.set(Number(row?.count ?? 0));
    },
  });

  return registry;
}
