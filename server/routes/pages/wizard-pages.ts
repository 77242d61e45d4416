import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { requestBooking } from '../../../lib/booking/booking-service.js';
import { listServices, type ServiceView } from '../../../lib/catalogue/catalogue-service.js';
import { serviceFitsPatient } from '../../../lib/catalogue/service-rules.js';
import { istToday, type Clock } from '../../../lib/clock.js';
import type { Db } from '../../../lib/db/database.js';
import { extendContext } from '../../../lib/context.js';
import { ValidationError } from '../../../lib/errors.js';
import { quoteBooking, type Quote } from '../../../lib/pricing/quote-service.js';
import type { FormError } from '../../views/helpers.js';
import { bookingInput, EARLIEST_DATE_OF_BIRTH, PHONE_PATTERN } from '../bookings.js';
import { formBody } from './forms.js';
import {
  chosenGender,
  findStep,
  PATIENT_FIELDS,
  SERVICES_FIELD,
  WIZARD_STEPS,
  type WizardProgress,
  type WizardStep,
} from './wizard-steps.js';

declare module 'express-session' {
  interface SessionData {
    /** The wizard's progress for a browser without JavaScript. */
    wizard?: WizardProgress;
    /** Services taken off the choice because the gender changed, shown once on the Services step. */
    wizardRemoved?: string[];
  }
}

export interface WizardDeps {
  db: Db;
  clock: Clock;
  deadlineMs: number;
  published: () => void;
}

const firstStep = WIZARD_STEPS[0] as WizardStep;

function freshProgress(): WizardProgress {
  return {
    patient: { name: '', gender: '', dateOfBirth: '', phone: '', email: '' },
    serviceIds: [],
    idempotencyKey: randomUUID(),
  };
}

/** The requested step, unless an earlier one is not complete: then that one, with its errors. */
function reachableStep(
  progress: WizardProgress,
  requested: WizardStep,
  clock: Clock,
): { step: WizardStep; errors: FormError[] } {
  for (const step of WIZARD_STEPS) {
    if (step === requested) return { step, errors: [] };
    const errors = step.check(progress, clock);
    if (errors.length > 0) return { step, errors };
  }
  return { step: requested, errors: [] };
}

/**
 * The booking wizard at `/`. Without JavaScript each step is a form posted to /wizard and the progress
 * lives in the session; public/js/wizard.js turns the same page into one page saved in localStorage.
 */
export function wizardPages(deps: WizardDeps): Router {
  const router = Router();

  const render = async (
    req: Request,
    res: Response,
    progress: WizardProgress,
    current: { step: WizardStep; errors: FormError[] },
    status = 200,
  ) => {
    const services = await listServices(deps.db);
    const gender = chosenGender(progress);
    const offered = services.filter(
      (service) => gender === null || serviceFitsPatient(service.gender, gender),
    );
    let quote: Quote | null = null;
    let errors = current.errors;
    if (current.step.id === 'summary') {
      try {
        quote = await quoteBooking(deps.db, deps.clock, bookingInput(deps.clock).parse(progress));
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        errors = [{ field: SERVICES_FIELD.id, message: `${SERVICES_FIELD.label}: ${error.message}` }];
      }
    }
    const removed = current.step.id === 'services' ? (req.session.wizardRemoved ?? []) : [];
    delete req.session.wizardRemoved;
    res.set('Cache-Control', 'no-store');
    res.status(status).render('pages/wizard', {
      title: 'Book a visit',
      scripts: ['/js/wizard.js'],
      steps: WIZARD_STEPS.map(({ id, label }) => ({ id, label })),
      current: current.step.id,
      errors,
      progress,
      services: offered,
      chosen: offered.filter((service) => progress.serviceIds.includes(service.id)),
      removed,
      quote,
      fields: { patient: PATIENT_FIELDS, services: SERVICES_FIELD },
      limits: {
        phonePattern: PHONE_PATTERN,
        minDateOfBirth: EARLIEST_DATE_OF_BIRTH,
        today: istToday(deps.clock),
      },
    });
  };

  /** Anonymous visitors log in first and come back; admins are told to use a patient account. */
  const patientOnly = (req: Request, res: Response): boolean => {
    if (!req.user) {
      res.redirect(
        303,
        `/login?next=${encodeURIComponent(req.originalUrl === '/wizard' ? '/' : req.originalUrl)}`,
      );
      return false;
    }
    if (req.user.role !== 'user') {
      res.status(403).render('pages/wizard-admin', { title: 'Book a visit' });
      return false;
    }
    return true;
  };

  router.get('/', async (req, res) => {
    if (!req.user && req.query.step === undefined) {
      res.render('pages/home', { title: 'Book a clinic visit', services: await listServices(deps.db) });
      return;
    }
    if (!patientOnly(req, res)) return;
    const progress = req.session.wizard ?? freshProgress();
    req.session.wizard = progress;
    const requested = findStep(req.query.step) ?? firstStep;
    await render(req, res, progress, reachableStep(progress, requested, deps.clock));
  });

  router.post('/wizard', async (req, res) => {
    if (!patientOnly(req, res)) return;
    const body = formBody(req);
    const progress = req.session.wizard ?? freshProgress();
    req.session.wizard = progress;
    const step = findStep(body.step) ?? firstStep;
    const genderBefore = chosenGender(progress);
    step.read(body, progress);
    dropUnfitServices(progress, genderBefore, await listServices(deps.db), req);
    const index = WIZARD_STEPS.indexOf(step);
    if (body.action === 'back') {
      res.redirect(303, `/?step=${WIZARD_STEPS[Math.max(0, index - 1)]?.id ?? firstStep.id}`);
      return;
    }
    const errors = step.check(progress, deps.clock);
    if (errors.length > 0) {
      await render(req, res, progress, { step, errors }, 400);
      return;
    }
    res.redirect(303, `/?step=${WIZARD_STEPS[Math.min(WIZARD_STEPS.length - 1, index + 1)]?.id}`);
  });

  router.post('/wizard/confirm', async (req, res) => {
    if (!patientOnly(req, res)) return;
    const progress = req.session.wizard ?? freshProgress();
    req.session.wizard = progress;
    const summary = WIZARD_STEPS[WIZARD_STEPS.length - 1] as WizardStep;
    const current = reachableStep(progress, summary, deps.clock);
    if (current.step !== summary) {
      await render(req, res, progress, current, 400);
      return;
    }
    const input = bookingInput(deps.clock).parse(progress);
    try {
      const { booking, created } = await requestBooking(
        deps.db,
        { userId: req.user!.id, ...input, idempotencyKey: progress.idempotencyKey },
        { clock: deps.clock, deadlineMs: deps.deadlineMs },
      );
      extendContext({ correlationId: booking.correlationId, bookingId: booking.id });
      if (created) deps.published();
      delete req.session.wizard;
      res.redirect(303, `/bookings/${booking.id}`);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      await render(req, res, progress, { step: summary, errors: [] }, error.status);
    }
  });

  return router;
}

/** A gender change takes off the chosen services that no longer fit, noting which. */
function dropUnfitServices(
  progress: WizardProgress,
  genderBefore: string | null,
  services: ServiceView[],
  req: Request,
): void {
  const gender = chosenGender(progress);
  if (gender === null || gender === genderBefore) return;
  const unfit = services.filter(
    (service) => progress.serviceIds.includes(service.id) && !serviceFitsPatient(service.gender, gender),
  );
  if (unfit.length === 0) return;
  progress.serviceIds = progress.serviceIds.filter((id) => !unfit.some((service) => service.id === id));
  req.session.wizardRemoved = unfit.map((service) => service.name);
}
