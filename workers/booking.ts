import {
  bookingHandlers,
  failOverdueBookings,
  redriveStalledSagas,
} from '../lib/booking/booking-handlers.js';
import { systemClock } from '../lib/clock.js';
import { errorFields, logger } from '../lib/logger.js';
import { runParticipant } from '../lib/participant.js';

await runParticipant({
  group: 'booking',
  handlers: ({ config }) =>
    bookingHandlers({ afterMs: config.SAGA_REDRIVE_AFTER_MS, limit: config.SAGA_REDRIVE_LIMIT }),
  // The saga's state is database rows only: one transaction per read batch.
  transactionPerBatch: true,
  background: ({ db, config, relay }) => {
    const redrive = { afterMs: config.SAGA_REDRIVE_AFTER_MS, limit: config.SAGA_REDRIVE_LIMIT };
    let sweeping: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      sweeping = (async () => {
        const now = systemClock.now();
        const failed = await failOverdueBookings(db, now, redrive);
        const redriven = await redriveStalledSagas(db, now, redrive);
        if (failed + redriven > 0) relay.kick();
      })().catch((error) => logger.warn('saga sweep failed', errorFields(error)));
    }, config.SAGA_SWEEP_INTERVAL_MS);
    return {
      stop: async () => {
        clearInterval(timer);
        await sweeping;
      },
    };
  },
});
