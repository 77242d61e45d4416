import { systemClock } from '../lib/clock.js';
import { runParticipant } from '../lib/participant.js';
import { pricingHandlers } from '../lib/pricing/pricing-handlers.js';

await runParticipant({ group: 'pricing', handlers: () => pricingHandlers({ clock: systemClock }) });
