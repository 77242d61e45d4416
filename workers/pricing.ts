import { systemClock } from '../lib/clock.js';
import { runParticipant } from '../lib/participant.js';
import { pricingHandlers } from '../lib/pricing/pricing-handlers.js';

// Pricing only reads rules and writes its decision: one transaction per read batch.
await runParticipant({
  group: 'pricing',
  handlers: () => pricingHandlers({ clock: systemClock }),
  transactionPerBatch: true,
});
