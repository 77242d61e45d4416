import { clinicOf } from '../lib/config.js';
import { confirmationHandlers } from '../lib/confirmation/confirmation-handlers.js';
import { ConfirmationSweep } from '../lib/confirmation/confirmation-sweep.js';
import { createMailer } from '../lib/confirmation/mailer.js';
import { systemClock } from '../lib/clock.js';
import { errorFields, logger } from '../lib/logger.js';
import { runParticipant } from '../lib/participant.js';

await runParticipant({
  group: 'confirmation',
  // Each message in flight holds its PDF, invite and MIME tree: eight at once keep the worker's memory
  // low and still send far faster than bookings confirm.
  inFlight: 8,
  handlers: ({ config, lifecycle }) => {
    const { mailer, channel, close } = createMailer(config.SMTP_URL, config.MAIL_FROM, config.MAIL_DIR);
    lifecycle.onShutdown('mailer', close);
    return confirmationHandlers({ mailer, channel, clinic: clinicOf(config), from: config.MAIL_FROM });
  },
  // Asks again for the confirmations of bookings it never heard of (their BookingConfirmed was lost).
  background: ({ db, redis, config, relay }) => {
    const afterMs = config.SAGA_REDRIVE_AFTER_MS;
    const deps = { db, redis, prefix: config.REDIS_PREFIX, group: 'confirmation', afterMs };
    const sweep = new ConfirmationSweep(deps, systemClock.now());
    let sweeping: Promise<unknown> | null = null;
    const timer = setInterval(() => {
      if (sweeping) return;
      sweeping = sweep
        .sweep(systemClock.now())
        .then((republished) => {
          if (!republished) return;
          logger.warn('confirmations asked for again: their BookingConfirmed was never heard of', {
            bookings: republished,
          });
          relay.kick();
        })
        .catch((error) => logger.warn('confirmation sweep failed', errorFields(error)))
        .finally(() => (sweeping = null));
    }, afterMs / 2);
    return {
      stop: async () => {
        clearInterval(timer);
        await sweeping;
      },
    };
  },
});
