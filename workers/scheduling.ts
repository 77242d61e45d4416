import { systemClock } from '../lib/clock.js';
import { runParticipant } from '../lib/participant.js';
import { schedulingHandlers } from '../lib/scheduling/scheduling-handlers.js';

await runParticipant({ group: 'scheduling', handlers: () => schedulingHandlers({ clock: systemClock }) });
