import { auditHandlers } from '../lib/audit/audit-handlers.js';
import { runParticipant } from '../lib/participant.js';

// The audit log only writes rows and sees every event: one transaction per batch keeps up with it, and
// as no step of a saga waits for it, a read waits 100 ms to fill its batch.
await runParticipant({
  group: 'audit-log',
  handlers: () => auditHandlers(),
  transactionPerBatch: true,
  lingerMs: 100,
});
