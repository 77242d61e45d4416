import { Router } from 'express';
import { listServices } from '../../../lib/catalogue/catalogue-service.js';
import type { AuthDeps } from '../auth.js';
import { authPages } from './auth-pages.js';

/** The patient-facing pages. */
export function pages(deps: AuthDeps): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    res.render('pages/home', { title: 'Book a clinic visit', services: await listServices(deps.db) });
  });
  router.use(authPages(deps));
  return router;
}
