// The booking wizard's steps, in order. A step is one entry here plus one partial
// (views/partials/wizard/<id>.ejs) and one entry in public/js/wizard.js.
import type { PatientGender } from '../../../lib/catalogue/service-rules.js';
import type { Clock } from '../../../lib/clock.js';
import type { FormError } from '../../views/helpers.js';
import { bookingInput } from '../bookings.js';

/** What the patient has entered so far (kept in the session without JavaScript). */
export interface WizardProgress {
  patient: { name: string; gender: string; dateOfBirth: string; phone: string; email: string };
  serviceIds: string[];
  /** Sent with the booking, so a repeated confirm makes one booking. */
  idempotencyKey: string;
}

export interface WizardStep {
  id: string;
  /** The step's name in the "Booking steps" navigation. */
  label: string;
  /** Copies this step's posted fields into the progress (unchecked: shown back as entered). */
  read(body: Record<string, unknown>, progress: WizardProgress): void;
  /** This step's problems, as messages beside its fields; none when the step is complete. */
  check(progress: WizardProgress, clock: Clock): FormError[];
}

/** Patient fields: form name → control id and label (the page contract's names). */
export const PATIENT_FIELDS = {
  name: { id: 'patient-name', label: 'Full name' },
  gender: { id: 'patient-gender', label: 'Gender' },
  dateOfBirth: { id: 'patient-date-of-birth', label: 'Date of birth' },
  phone: { id: 'patient-phone', label: 'Phone' },
  email: { id: 'patient-email', label: 'Email' },
} as const;

export const SERVICES_FIELD = { id: 'services', label: 'Services' };

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** Issues of one part of the booking schema, as field messages. */
function issues(
  result:
    { success: true } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } },
  field: (path: PropertyKey[]) => { id: string; label: string },
): FormError[] {
  if (result.success) return [];
  const seen = new Set<string>();
  return result.error.issues.flatMap((issue) => {
    const { id, label } = field(issue.path);
    if (seen.has(id)) return [];
    seen.add(id);
    return [{ field: id, message: `${label}: ${issue.message}` }];
  });
}

export const WIZARD_STEPS: readonly WizardStep[] = [
  {
    id: 'patient',
    label: 'Patient info',
    read(body, progress) {
      for (const key of Object.keys(PATIENT_FIELDS) as (keyof typeof PATIENT_FIELDS)[]) {
        progress.patient[key] = text(body[key]);
      }
    },
    check(progress, clock) {
      const result = bookingInput(clock).shape.patient.safeParse(progress.patient);
      return issues(result, (path) => PATIENT_FIELDS[path[0] as keyof typeof PATIENT_FIELDS]);
    },
  },
  {
    id: 'services',
    label: 'Services',
    read(body, progress) {
      const chosen = body.serviceIds;
      progress.serviceIds = (Array.isArray(chosen) ? chosen : [chosen]).filter(
        (id): id is string => typeof id === 'string',
      );
    },
    check(progress, clock) {
      const result = bookingInput(clock).shape.serviceIds.safeParse(progress.serviceIds);
      return issues(result, () => SERVICES_FIELD);
    },
  },
  {
    id: 'summary',
    label: 'Summary',
    read() {},
    check: () => [],
  },
];

export function findStep(id: unknown): WizardStep | undefined {
  return WIZARD_STEPS.find((step) => step.id === id);
}

/** The patient's gender once it is one the catalogue knows. */
export function chosenGender(progress: WizardProgress): PatientGender | null {
  const { gender } = progress.patient;
  return gender === 'female' || gender === 'male' || gender === 'other' ? gender : null;
}
