import { Router, type Request, type Response } from 'express';
import { listServices } from '../../lib/catalogue/catalogue-service.js';
import { AppError, ValidationError } from '../../lib/errors.js';
import { loginWithLimits, logOut, signupWithLimits, type AuthDeps } from './auth.js';

/** Only same-site paths are followed after login. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?!\/)[\w\-/?=&%.]*$/.test(value) ? value : '/';
}

export function pages(deps: AuthDeps & { issueCsrf: (req: Request, res: Response) => string }): Router {
  const router = Router();

  const render = (
    req: Request,
    res: Response,
    view: string,
    locals: Record<string, unknown>,
    status = 200,
  ) => {
    res
      .status(status)
      .render(view, { csrfToken: deps.issueCsrf(req, res), errors: [], values: {}, ...locals });
  };

  /** A form error shows the form again with its messages; other errors go to the error page. */
  const formError = (error: unknown) => {
    if (!(error instanceof AppError) || error.status >= 500) throw error;
    const details =
      error instanceof ValidationError && Array.isArray(error.details)
        ? (error.details as { path: string; message: string }[])
        : [];
    return {
      status: error.status,
      errors: details.length > 0 ? details.map((d) => `${d.path}: ${d.message}`) : [error.message],
    };
  };

  router.get('/', async (req, res) => {
    render(req, res, 'pages/home', { title: 'Book a clinic visit', services: await listServices(deps.db) });
  });

  router.get('/login', (req, res) => {
    render(req, res, 'pages/login', { title: 'Log in', next: safeNext(req.query.next) });
  });

  router.post('/login', async (req, res) => {
    const body = req.body as { email?: string; password?: string; next?: string };
    const next = safeNext(body.next);
    try {
      if (!body.email || !body.password) throw new ValidationError('Please enter your email and password.');
      await loginWithLimits(deps, req, { email: body.email });
      res.redirect(303, next);
    } catch (error) {
      const { status, errors } = formError(error);
      render(
        req,
        res,
        'pages/login',
        { title: 'Log in', next, errors, values: { email: body.email ?? '' } },
        status,
      );
    }
  });

  router.get('/signup', (req, res) => {
    render(req, res, 'pages/signup', { title: 'Create an account' });
  });

  router.post('/signup', async (req, res) => {
    const body = req.body as { name?: string; email?: string };
    try {
      await signupWithLimits(deps, req, req.body);
      res.redirect(303, '/');
    } catch (error) {
      const { status, errors } = formError(error);
      render(
        req,
        res,
        'pages/signup',
        { title: 'Create an account', errors, values: { name: body.name ?? '', email: body.email ?? '' } },
        status,
      );
    }
  });

  router.post('/logout', async (req, res) => {
    if (req.user) await logOut(req);
    res.redirect(303, '/');
  });

  return router;
}
