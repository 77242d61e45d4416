import { doubleCsrf } from 'csrf-csrf';
import type { Request, RequestHandler } from 'express';
import helmet from 'helmet';

export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        objectSrc: ["'none'"],
        upgradeInsecureRequests: null,
      },
    },
  });
}

/**
 * Double-submit CSRF tokens bound to the session id: the API takes the token from `x-csrf-token`,
 * HTML forms from a hidden `_csrf` field.
 */
export function csrf(options: { keys: string[]; secure: boolean }) {
  const { doubleCsrfProtection, generateCsrfToken } = doubleCsrf({
    // Its own keys, derived apart from the session's; the first signs, every one verifies (rotation).
    getSecret: () => options.keys,
    getSessionIdentifier: (req) => req.session.id,
    // __Host- cookies need HTTPS; plain HTTP (development, tests) uses a plain name.
    cookieName: options.secure ? '__Host-clinic.csrf' : 'clinic.csrf',
    cookieOptions: { sameSite: 'lax', secure: options.secure, path: '/', httpOnly: true },
    getCsrfTokenFromRequest: (req) => {
      const token = req.get('x-csrf-token') ?? (req.body as { _csrf?: unknown } | undefined)?._csrf;
      return typeof token === 'string' ? token : undefined;
    },
    errorConfig: { statusCode: 403, code: 'EBADCSRFTOKEN', message: 'invalid csrf token' },
  });
  const issue = (req: Request, res: Parameters<RequestHandler>[1]): string => {
    // Keeps the anonymous session (and so its id) that the token is bound to.
    req.session.csrf = true;
    return generateCsrfToken(req, res, { overwrite: false, validateOnReuse: false });
  };
  return { protect: doubleCsrfProtection, issue };
}

/** Answers here carry personal data or depend on the session: no cache, shared or private, keeps them. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};
