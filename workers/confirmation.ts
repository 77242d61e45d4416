import { confirmationHandlers, createMailer } from '../lib/confirmation/confirmation-handlers.js';
import { runParticipant } from '../lib/participant.js';

await runParticipant({
  group: 'confirmation',
  handlers: ({ config, lifecycle }) => {
    const { mailer, channel, close } = createMailer(config.SMTP_URL, config.MAIL_FROM);
    lifecycle.onShutdown('mailer', close);
    return confirmationHandlers({ mailer, channel });
  },
});
