import type { Request, RequestHandler } from 'express';
import type { SecurityEventType } from '../../lib/audit/security-events.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Every change an admin makes, pages and API, goes to the audit trail with the admin, the address,
 * the route and the answer, once it is answered (the services also record the before and after).
 */
export function auditAdminActions(
  record: (req: Request, type: SecurityEventType, data: Record<string, unknown>) => Promise<void>,
): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method) || req.user?.role !== 'admin') return next();
    const path = req.originalUrl.split('?', 1)[0] ?? '';
    // What was changed is recorded by the change itself (a replay: one DeadLetterReplayed per letter).
    res.once(
      'finish',
      () => void record(req, 'AdminAction', { method: req.method, path, status: res.statusCode }),
    );
    next();
  };
}
