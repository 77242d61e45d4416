import { auditHandlers } from '../lib/audit/audit-handlers.js';
import { runParticipant } from '../lib/participant.js';

// The audit log only writes rows and sees every event: one transaction per batch keeps up with it.
// Nothing in the saga waits on it: its reads let a tenth of a second's events gather into one batch.
await runParticipant({
  group: 'audit-log',
  handlers: () => auditHandlers(),
  transactionPerBatch: true,
  lingerMs: 100,
});
