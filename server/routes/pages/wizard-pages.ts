import { WEB_PRODUCER } from '../../../lib/bus/outbox.js';
import type { Event } from '../../../lib/events/catalogue.js';
import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { requestBooking } from '../../../lib/booking/booking-service.js';
import { bookingEntries } from '../../../lib/booking/patient-bookings.js';
import { listServices, type ServiceView } from '../../../lib/catalogue/catalogue-service.js';
import { serviceFitsPatient } from '../../../lib/catalogue/service-rules.js';
import type { Clock } from '../../../lib/clock.js';
import type { Db } from '../../../lib/db/database.js';
import { extendContext } from '../../../lib/context.js';
import { NotFoundError, ValidationError } from '../../../lib/errors.js';
import type { FormError } from '../../views/helpers.js';
import { bookingInput } from '../bookings.js';
import { formBody } from './forms.js';
import {
  chosenGender,
  findStep,
  slotProblem,
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
    /** The progress was just set from an earlier booking: the page's entries replace any saved ones. */
    wizardFresh?: boolean;
  }
}

export interface WizardDeps {
  db: Db;
  clock: Clock;
  deadlineMs: number;
  /** SAGA_REDRIVE_AFTER_MS: when a request nothing answered is re-driven. */
  redriveAfterMs: number;
  /** At most this many of a patient's bookings still being processed (BOOKING_PENDING_LIMIT). */
  pendingLimit: number;
  /** Publishes a booking request's events itself, right after its commit. */
  publish: (events: readonly Event[]) => void;
}

const firstStep = WIZARD_STEPS[0] as WizardStep;
const bookingId = z.uuid();

function freshProgress(): WizardProgress {
  return {
    patient: { name: '', gender: '', dateOfBirth: '', phone: '', email: '' },
    serviceIds: [],
    slotStart: '',
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
    const removed = req.session.wizardRemoved ?? [];
    delete req.session.wizardRemoved;
    const fresh = req.session.wizardFresh === true;
    delete req.session.wizardFresh;
    let errors = current.errors;
    const stepLocals: Record<string, object> = {};
    for (const step of WIZARD_STEPS) {
      const isCurrent = step === current.step;
      const view = await step.view(progress, {
        db: deps.db,
        clock: deps.clock,
        current: isCurrent,
        removed: isCurrent ? removed : [],
        day: req.query.day,
      });
      stepLocals[step.id] = view.locals;
      if (isCurrent && view.errors) errors = [...errors, ...view.errors];
    }
    res.set('Cache-Control', 'no-store');
    res.status(status).render('pages/wizard', {
      title: 'Book a visit',
      scripts: ['/js/wizard.js'],
      steps: WIZARD_STEPS.map(({ id, label }) => ({ id, label })),
      current: current.step.id,
      fresh,
      errors,
      progress,
      stepLocals,
    });
  };

  /** Anonymous visitors log in first and come back; admins are told to use a patient account. */
  const patientOnly = (req: Request, res: Response): boolean => {
    if (!req.user) {
      // A form posted anonymously (its session ended) comes back to the wizard, not to the POST's path.
      res.redirect(303, `/login?next=${encodeURIComponent(req.method === 'GET' ? req.originalUrl : '/')}`);
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
    if (errors.length === 0 && step.verify)
      errors.push(...(await step.verify(progress, deps.db, deps.clock)));
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
      const { booking, events } = await requestBooking(
        deps.db,
        { userId: req.user!.id, ...input, idempotencyKey: progress.idempotencyKey },
        {
          clock: deps.clock,
          deadlineMs: deps.deadlineMs,
          redriveAfterMs: deps.redriveAfterMs,
          pendingLimit: deps.pendingLimit,
          publisher: WEB_PRODUCER,
        },
      );
      extendContext({ correlationId: booking.correlationId, bookingId: booking.id });
      deps.publish(events);
      delete req.session.wizard;
      res.redirect(303, `/bookings/${booking.id}`);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      const slot = slotProblem(error);
      if (slot) {
        await render(
          req,
          res,
          progress,
          { step: findStep('time') as WizardStep, errors: [slot] },
          error.status,
        );
        return;
      }
      await render(req, res, progress, { step: summary, errors: [] }, error.status);
    }
  });

  /** The same visit booked again at another time: one of the patient's bookings fills the wizard. */
  router.get('/bookings/:id/book-again', async (req, res) => {
    if (!patientOnly(req, res)) return;
    const id = bookingId.safeParse(req.params.id);
    const entries = id.success ? await bookingEntries(deps.db, req.user!.id, id.data) : null;
    // Another patient's booking is indistinguishable from a missing one.
    if (!entries) throw new NotFoundError('No such booking.');
    req.session.wizard = { ...entries, slotStart: '', idempotencyKey: randomUUID() };
    req.session.wizardFresh = true;
    res.redirect(303, '/?step=time');
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
