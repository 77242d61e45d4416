import { systemClock } from '../lib/clock.js';
import { runParticipant } from '../lib/participant.js';
import { quotaHandlers } from '../lib/quota/quota-handlers.js';

// The day's counter is one row: a batch takes its lock once and commits many decisions together.
await runParticipant({
  group: 'discount-quota',
  handlers: () => quotaHandlers({ clock: systemClock }),
  transactionPerBatch: true,
});
