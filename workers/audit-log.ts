import { auditHandlers } from '../lib/audit/audit-handlers.js';
import { runParticipant } from '../lib/participant.js';

// The audit log only writes rows and sees every event: one transaction per batch keeps up with it.
await runParticipant({ group: 'audit-log', handlers: () => auditHandlers(), transactionPerBatch: true });
