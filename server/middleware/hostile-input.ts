import type { Request, RequestHandler } from 'express';
import { ValidationError } from '../../lib/errors.js';

// NUL and other C0 controls but tab and newlines; a UTF-16 half without its other half.
const FORBIDDEN =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const MAX_DEPTH = 8;

interface Problem {
  path: string;
  message: string;
}

/** The first string (or key) in `value` that no field may hold, searched breadth-first without recursion. */
function findForbidden(value: unknown, root: string): Problem | null {
  const queue: [unknown, string, number][] = [[value, root, 0]];
  for (let item = queue.shift(); item; item = queue.shift()) {
    const [current, path, depth] = item;
    if (typeof current === 'string') {
      if (FORBIDDEN.test(current)) return { path, message: 'holds a character that is not allowed' };
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= MAX_DEPTH) return { path, message: 'is nested too deeply' };
    for (const [key, child] of Object.entries(current)) {
      const childPath = path ? `${path}.${key}` : key;
      if (FORBIDDEN.test(key)) return { path: root, message: 'has a field name that is not allowed' };
      queue.push([child, childPath, depth + 1]);
    }
  }
  return null;
}

/** Form fields that are lists by design (a checkbox per service or closed date): each value is still checked. */
const LIST_FIELDS = new Set(['serviceIds', 'removeClosedDates']);

/** A form or query field given twice arrives as an array: one field, one value. */
function findDoubled(fields: unknown, root: string): Problem | null {
  if (!fields || typeof fields !== 'object') return null;
  for (const [key, value] of Object.entries(fields)) {
    if (LIST_FIELDS.has(key) && Array.isArray(value) && value.every((item) => typeof item === 'string'))
      continue;
    if (typeof value !== 'string')
      return { path: root ? `${root}.${key}` : key, message: 'was sent more than once' };
  }
  return null;
}

function decodedPath(req: Request): string | null {
  try {
    return decodeURIComponent(req.path);
  } catch {
    return null;
  }
}

/**
 * Refuses, before any session, limiter or query sees it, input that no schema should have to think
 * about: NUL bytes and control characters, unpaired surrogates, doubled form or query fields,
 * deep nesting. A missing body, or one of a type nobody reads, is an empty form to the schemas.
 */
export const hostileInputGuard: RequestHandler = (req, _res, next) => {
  req.body ??= {};
  const path = decodedPath(req);
  const problem =
    (path === null || FORBIDDEN.test(path) ? { path: 'url', message: 'is not a valid address' } : null) ??
    findDoubled(req.query, 'query') ??
    findForbidden(req.query, 'query') ??
    (req.is('application/x-www-form-urlencoded') ? findDoubled(req.body, '') : null) ??
    findForbidden(req.body, '');
  if (!problem) return next();
  next(new ValidationError('The request holds input that is not allowed.', [problem]));
};
