// One stage of the bus floor written by hand (bus-floor.ts, `by hand`): what any implementation of a
// hop must do, with nothing else. It reads its stream as consumer group hop-<N> (XREADGROUP), commits
// the inbox row and the next event's outbox row in one round trip (`BEGIN; INSERT …; INSERT …; COMMIT`,
// values as literals, on a connection of a pool as large as a participant's), sends the next event's XADD with the XACK in one pipeline,
// and marks what it published every 200 ms. No retries, claims, dead letters, validation or logging
// context: it shows what the hops themselves cost on this machine, under the real bus's figures.
// Environment: as hop-stage.ts.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createRedis, entryFields, streamKey } from '../../lib/bus/redis.js';
import { streamOf, type Event } from '../../lib/events/catalogue.js';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`hand-hop-stage: ${name} is not set`);
  return value;
};
const stage = Number(env('HOP_STAGE'));
const last = stage === Number(env('HOPS'));
const base = env('BUS_FLOOR_PREFIX');
const group = `hop-${stage}`;
const source = streamKey(`${base}hop${stage}:`, streamOf('ConfigChanged'));
const target = streamKey(`${base}hop${stage + 1}:`, streamOf('ConfigChanged'));

const pool = new pg.Pool({ connectionString: env('DATABASE_URL'), max: 10 });
const redis = createRedis(env('REDIS_URL'), 'worker', `${group}:commands`);
const reader = createRedis(env('REDIS_URL'), 'worker', `${group}:reader`);
await redis.xgroup('CREATE', source, group, '0', 'MKSTREAM').catch(() => undefined);
const literal = (value: string) => pg.escapeLiteral(value);

let published: string[] = [];
const marker = setInterval(() => {
  if (published.length === 0) return;
  const ids = published;
  published = [];
  void pool.query('UPDATE bus.outbox SET published_at = now() WHERE event_id = ANY($1)', [ids]);
}, 200);

async function hop(entryId: string, fields: string[]): Promise<void> {
  const event = JSON.parse(fields[fields.indexOf('event') + 1]!) as Event;
  const inbox = `INSERT INTO bus.inbox (consumer_group, event_id) VALUES (${literal(group)}, ${literal(event.eventId)}) ON CONFLICT DO NOTHING`;
  if (last) {
    const finished = `INSERT INTO bench_hops (correlation_id, finished_at) VALUES (${literal(event.correlationId)}, clock_timestamp())`;
    await pool.query(`BEGIN; ${inbox}; ${finished}; COMMIT`);
    await redis.xack(source, group, entryId);
    return;
  }
  const next = {
    ...event,
    eventId: randomUUID(),
    causationId: event.eventId,
    occurredAt: new Date().toISOString(),
  };
  const outbox = `INSERT INTO bus.outbox (stream, event_id, payload, causation_id, producer) VALUES (${literal(streamOf(next.type))}, ${literal(next.eventId)}, ${literal(JSON.stringify(next))}, ${literal(event.eventId)}, ${literal(group)})`;
  await pool.query(`BEGIN; ${inbox}; ${outbox}; COMMIT`);
  await redis
    .pipeline()
    .xadd(target, '*', ...entryFields(next))
    .xack(source, group, entryId)
    .exec();
  published.push(next.eventId);
}

let running = true;
const loop = (async () => {
  while (running) {
    const reply = (await reader.xreadgroup(
      'GROUP',
      group,
      `${group}-1`,
      'COUNT',
      16,
      'BLOCK',
      500,
      'STREAMS',
      source,
      '>',
    )) as [string, [string, string[]][]][] | null;
    for (const [, entries] of reply ?? []) await Promise.all(entries.map(([id, fields]) => hop(id, fields)));
  }
})();

process.once('SIGTERM', () => {
  running = false;
  void (async () => {
    await loop;
    clearInterval(marker);
    await pool.end();
    process.exit(0);
  })();
});
process.stdout.write('ready\n');
