import { bookingHandlers } from '../lib/booking/booking-handlers.js';
import { REDRIVE_BACKLOG_LIMIT, sweepSagas } from '../lib/booking/saga-sweep.js';
import { systemClock } from '../lib/clock.js';
import { errorFields, logger } from '../lib/logger.js';
import { runParticipant } from '../lib/participant.js';

await runParticipant({
  group: 'booking',
  handlers: ({ config }) =>
    bookingHandlers({ afterMs: config.SAGA_REDRIVE_AFTER_MS, limit: config.SAGA_REDRIVE_LIMIT }),
  // The saga's state is database rows only: one transaction per read batch.
  transactionPerBatch: true,
  background: ({ db, redis, config, relay }) => {
    const redrive = { afterMs: config.SAGA_REDRIVE_AFTER_MS, limit: config.SAGA_REDRIVE_LIMIT };
    let sweeping: Promise<unknown> | null = null;
    let behind = false;
    const timer = setInterval(() => {
      // A slow sweep (PostgreSQL or Redis away) is not joined by the next ones.
      if (sweeping) return;
      sweeping = (async () => {
        const now = systemClock.now();
        const sweep = await sweepSagas({ db, redis, prefix: config.REDIS_PREFIX, now, redrive });
        if (sweep.failed + sweep.redriven > 0) relay.kick();
        // Said once when the backlog starts and once when it ends, not on every sweep.
        if (sweep.unread > REDRIVE_BACKLOG_LIMIT !== behind) {
          behind = !behind;
          if (behind) logger.warn('re-drives wait: the bus is behind', { unread: sweep.unread });
          else logger.info('re-drives resume: the backlog is gone', { unread: sweep.unread });
        }
      })()
        .catch((error) => logger.warn('saga sweep failed', errorFields(error)))
        .finally(() => (sweeping = null));
    }, config.SAGA_SWEEP_INTERVAL_MS);
    return {
      stop: async () => {
        clearInterval(timer);
        await sweeping;
      },
    };
  },
});
