import { Router } from 'express';
import type { AuthDeps } from '../auth.js';
import { authPages } from './auth-pages.js';
import { bookingPages } from './booking-pages.js';
import { wizardPages, type WizardDeps } from './wizard-pages.js';

/** The patient-facing pages: the wizard at `/`, sign-up and log-in, the status page and history. */
export function pages(deps: AuthDeps & WizardDeps & { cancellationCutoffMinutes: number }): Router {
  const router = Router();
  router.use(wizardPages(deps));
  router.use(authPages(deps));
  router.use(bookingPages(deps));
  return router;
}
