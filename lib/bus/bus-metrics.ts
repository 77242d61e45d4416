import type { Redis } from 'ioredis';
import { statementsSent } from '../db/database.js';
import type { BusHooks } from './hooks.js';

/** Where worker processes leave their bus counters for the web's /metrics (workers serve no HTTP). */
export const busMetricsKey = (prefix: string) => `${prefix}metrics:bus`;

export interface BusMetric {
  name: 'handled' | 'duplicates' | 'retried' | 'dead_lettered' | 'published' | 'relay_lag_ms' | 'statements';
  group: string;
  type: string;
}

const field = ({ name, group, type }: BusMetric) => `${name}|${group}|${type}`;

export function parseBusMetrics(hash: Record<string, string>): (BusMetric & { value: number })[] {
  return Object.entries(hash).map(([key, value]) => {
    const [name, group = '', type = ''] = key.split('|');
    return { name: name as BusMetric['name'], group, type, value: Number(value) };
  });
}

/**
 * Bus hooks that count what a process's consumer and relay do and add it to a Redis hash once a
 * second: one pipeline per flush, never a Redis call per event.
 */
export function busMetricsRecorder(redis: Redis, prefix: string, group: string, flushMs = 1_000) {
  const counts = new Map<string, number>();
  let relayLagMs: number | null = null;
  let statementsFlushed = statementsSent();
  const add = (metric: BusMetric, by = 1) => counts.set(field(metric), (counts.get(field(metric)) ?? 0) + by);

  const hooks: BusHooks = {
    handled: ({ type, duplicate }) => add({ name: duplicate ? 'duplicates' : 'handled', group, type }),
    retried: ({ type }) => add({ name: 'retried', group, type: type ?? 'invalid' }),
    deadLettered: ({ type }) => add({ name: 'dead_lettered', group, type: type ?? 'invalid' }),
    published: ({ count, lagMs }) => {
      add({ name: 'published', group, type: '' }, count);
      relayLagMs = Math.max(relayLagMs ?? 0, lagMs);
    },
  };

  async function flush(): Promise<void> {
    const statements = statementsSent();
    if (statements > statementsFlushed) {
      add({ name: 'statements', group, type: '' }, statements - statementsFlushed);
      statementsFlushed = statements;
    }
    if (counts.size === 0 && relayLagMs === null) return;
    const pipeline = redis.pipeline();
    for (const [key, value] of counts) pipeline.hincrby(busMetricsKey(prefix), key, value);
    if (relayLagMs !== null)
      pipeline.hset(busMetricsKey(prefix), field({ name: 'relay_lag_ms', group, type: '' }), relayLagMs);
    counts.clear();
    relayLagMs = null;
    await pipeline.exec();
  }

  const timer = setInterval(() => void flush().catch(() => {}), flushMs);
  timer.unref();
  return {
    hooks,
    flush,
    async stop() {
      clearInterval(timer);
      await flush().catch(() => {});
    },
  };
}
