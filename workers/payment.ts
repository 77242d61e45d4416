import { runParticipant } from '../lib/participant.js';
import { paymentHandlers } from '../lib/payment/payment-handlers.js';

await runParticipant({
  group: 'payment',
  // The gateway call holds no connection: at 300 ms a call, 256 at once is over 800 payments a second.
  inFlight: 256,
  handlers: ({ config }) =>
    paymentHandlers({
      defaults: {
        mode: config.PAYMENT_SIMULATION_MODE,
        failureRate: config.PAYMENT_FAILURE_RATE,
        delayMs: config.PAYMENT_DELAY_MS,
      },
    }),
});
