import { systemClock } from '../lib/clock.js';
import { runParticipant } from '../lib/participant.js';
import { quotaHandlers } from '../lib/quota/quota-handlers.js';

await runParticipant({ group: 'discount-quota', handlers: () => quotaHandlers({ clock: systemClock }) });
