import { clinicOf } from '../lib/config.js';
import { confirmationHandlers } from '../lib/confirmation/confirmation-handlers.js';
import { createMailer } from '../lib/confirmation/mailer.js';
import { runParticipant } from '../lib/participant.js';

await runParticipant({
  group: 'confirmation',
  handlers: ({ config, lifecycle }) => {
    const { mailer, channel, close } = createMailer(config.SMTP_URL, config.MAIL_FROM, config.MAIL_DIR);
    lifecycle.onShutdown('mailer', close);
    return confirmationHandlers({ mailer, channel, clinic: clinicOf(config), from: config.MAIL_FROM });
  },
});
