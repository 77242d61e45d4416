import { runParticipant } from '../lib/participant.js';
import { paymentHandlers } from '../lib/payment/payment-handlers.js';

await runParticipant({
  group: 'payment',
  handlers: ({ config }) =>
    paymentHandlers({
      defaults: {
        mode: config.PAYMENT_SIMULATION_MODE,
        failureRate: config.PAYMENT_FAILURE_RATE,
        delayMs: config.PAYMENT_DELAY_MS,
      },
    }),
});
