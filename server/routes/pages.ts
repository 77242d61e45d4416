import { Router, type Request, type Response } from 'express';
import { listServices } from '../../lib/catalogue/catalogue-service.js';
import type { Db } from '../../lib/db/database.js';
import { safeNext } from './auth.js';

/** The pages; their forms' posts (login, sign-up, logout) are in auth.ts. */
export function pages(deps: { db: Db; issueCsrf: (req: Request, res: Response) => string }): Router {
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

  router.get('/', async (req, res) => {
    render(req, res, 'pages/home', { title: 'Book a clinic visit', services: await listServices(deps.db) });
  });

  router.get('/login', (req, res) => {
    render(req, res, 'pages/login', { title: 'Log in', next: safeNext(req.query.next) });
  });

  router.get('/signup', (req, res) => {
    render(req, res, 'pages/signup', { title: 'Create an account' });
  });

  return router;
}
