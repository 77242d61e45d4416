import { busMetricsRecorder } from '../lib/bus/bus-metrics.js';
import { createRedis } from '../lib/bus/redis.js';
import { DIRECT_PUBLISH_GRACE_MS, OutboxRelay } from '../lib/bus/relay.js';
import { systemClock } from '../lib/clock.js';
import { AccountCache } from '../lib/identity/account-cache.js';
import { logger } from '../lib/logger.js';
import { bootProcess, quitRedis } from '../lib/process.js';
import { createApp } from './app.js';
import { createWebServer } from './http-server.js';

const { config, db, lifecycle } = bootProcess('web');
const redis = createRedis(config.REDIS_URL, 'web', 'web');
// The web writes BookingRequested and ConfigChanged to the outbox; it publishes them itself at once.
const relayRedis = createRedis(config.REDIS_URL, 'worker', 'web:relay');
const metrics = busMetricsRecorder(relayRedis, config.REDIS_PREFIX, 'web');
const relay = new OutboxRelay({
  db,
  redis: relayRedis,
  databaseUrl: config.DATABASE_URL,
  prefix: config.REDIS_PREFIX,
  pollMs: config.BUS_POLL_MS,
  keepInboxMs: config.BUS_INBOX_RETENTION_DAYS * 24 * 3600_000,
  // The participants publish their own rows: this relay takes them only if they were lost.
  directGraceMs: DIRECT_PUBLISH_GRACE_MS,
  hooks: metrics.hooks,
});
const accounts = new AccountCache(db, { databaseUrl: config.DATABASE_URL });
const app = createApp({
  config,
  db,
  redis,
  clock: systemClock,
  published: () => relay.kick(),
  publish: (events) => relay.publishCommitted(events),
  accounts,
});
const server = createWebServer(app);

lifecycle.onShutdown(
  'http',
  () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    }),
);
lifecycle.onShutdown('relay', () => relay.stop());
lifecycle.onShutdown('accounts', () => accounts.stop());
lifecycle.onShutdown('metrics', () => metrics.stop());
lifecycle.onShutdown('redis', async () => {
  await quitRedis(redis);
  await quitRedis(relayRedis);
});
lifecycle.onShutdown('database', () => db.destroy());

await relay.start();
await accounts.start();
// The web's Redis fails fast instead of queueing: give it a moment to connect before taking requests.
if (redis.status !== 'ready') {
  await new Promise((resolve) => {
    redis.once('ready', resolve);
    setTimeout(resolve, 5_000).unref();
  });
}
server.listen(config.PORT, () => logger.info('web listening', { port: config.PORT }));
