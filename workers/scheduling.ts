import { systemClock } from '../lib/clock.js';
import { runParticipant } from '../lib/participant.js';
import { schedulingHandlers } from '../lib/scheduling/scheduling-handlers.js';

// Holds and places are database rows only: one transaction per read batch.
await runParticipant({
  group: 'scheduling',
  handlers: () => schedulingHandlers({ clock: systemClock }),
  transactionPerBatch: true,
});
