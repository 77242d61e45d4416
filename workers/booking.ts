import { bookingHandlers, failOverdueBookings } from '../lib/booking/booking-handlers.js';
import { systemClock } from '../lib/clock.js';
import { errorFields, logger } from '../lib/logger.js';
import { runParticipant } from '../lib/participant.js';

await runParticipant({
  group: 'booking',
  handlers: () => bookingHandlers(),
  background: ({ db, config, relay }) => {
    let sweeping: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      sweeping = failOverdueBookings(db, systemClock.now())
        .then((failed) => failed > 0 && relay.kick())
        .catch((error) => logger.warn('deadline sweep failed', errorFields(error)));
    }, config.SAGA_SWEEP_INTERVAL_MS);
    return {
      stop: async () => {
        clearInterval(timer);
        await sweeping;
      },
    };
  },
});
