import { clinicOf } from '../lib/config.js';
import { confirmationHandlers } from '../lib/confirmation/confirmation-handlers.js';
import { createMailer } from '../lib/confirmation/mailer.js';
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
});
