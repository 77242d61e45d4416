// The booking wizard's steps, in order. A step is one entry here plus one partial
// (views/partials/wizard/<id>.ejs) and one entry in public/js/wizard.js.
import { listServices } from '../../../lib/catalogue/catalogue-service.js';
import { serviceFitsPatient, type PatientGender } from '../../../lib/catalogue/service-rules.js';
import { istToday, type Clock } from '../../../lib/clock.js';
import type { Db } from '../../../lib/db/database.js';
import { ValidationError } from '../../../lib/errors.js';
import { quoteBooking } from '../../../lib/pricing/quote-service.js';
import type { FormError } from '../../views/helpers.js';
import { slotPicker, type SlotPickerLocals } from '../../views/slot-picker.js';
import { bookingInput, EARLIEST_DATE_OF_BIRTH, PHONE_PATTERN } from '../bookings.js';

/** What the patient has entered so far (kept in the session without JavaScript). */
export interface WizardProgress {
  patient: { name: string; gender: string; dateOfBirth: string; phone: string; email: string };
  serviceIds: string[];
  /** The chosen slot's start, ISO with its offset ('' until one is chosen). */
  slotStart: string;
  /** Sent with the booking, so a repeated confirm makes one booking. */
  idempotencyKey: string;
}

export interface StepContext {
  db: Db;
  clock: Clock;
  /** Whether this step is the one shown (the others are rendered hidden, for the script). */
  current: boolean;
  /** Services just taken off the choice by a gender change. */
  removed: string[];
  /** The day the slot picker shows, as asked for in the URL (`?day=YYYY-MM-DD`). */
  day: unknown;
}

export interface WizardStep {
  id: string;
  /** The step's name in the "Booking steps" navigation. */
  label: string;
  /** Copies this step's posted fields into the progress (unchecked: shown back as entered). */
  read(body: Record<string, unknown>, progress: WizardProgress): void;
  /** This step's problems, as messages beside its fields; none when the step is complete. */
  check(progress: WizardProgress, clock: Clock): FormError[];
  /** Problems only the database can tell (a chosen time taken meanwhile), once `check` passes. */
  verify?(progress: WizardProgress, db: Db, clock: Clock): Promise<FormError[]>;
  /** What the step's partial shows beyond the progress, and any problem found meanwhile. */
  view(progress: WizardProgress, context: StepContext): Promise<{ locals: object; errors?: FormError[] }>;
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
export const SLOT_FIELD = { id: 'slot-picker', label: 'Date & time' };
const CHOOSE_SLOT = `${SLOT_FIELD.label}: choose a free time for the visit`;

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
    async view(_progress, { clock }) {
      const limits = {
        phonePattern: PHONE_PATTERN,
        minDateOfBirth: EARLIEST_DATE_OF_BIRTH,
        today: istToday(clock),
      };
      return { locals: { fields: { patient: PATIENT_FIELDS }, limits } };
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
    async view(progress, { db, removed }) {
      const gender = chosenGender(progress);
      const offered = (await listServices(db)).filter(
        (service) => gender === null || serviceFitsPatient(service.gender, gender),
      );
      const chosen = offered.filter((service) => progress.serviceIds.includes(service.id));
      return { locals: { fields: { services: SERVICES_FIELD }, services: offered, chosen, removed } };
    },
  },
  {
    id: 'time',
    label: SLOT_FIELD.label,
    read(body, progress) {
      progress.slotStart = text(body.slotStart);
    },
    check(progress, clock) {
      // A visit from the wizard always has a time (walk-ins are booked through the API only).
      if (!progress.slotStart) return [{ field: SLOT_FIELD.id, message: CHOOSE_SLOT }];
      const result = bookingInput(clock).shape.slotStart.safeParse(progress.slotStart);
      return result.success ? [] : [{ field: SLOT_FIELD.id, message: CHOOSE_SLOT }];
    },
    async verify(progress, db, clock) {
      return slotTaken(await slotPicker(db, clock, { chosenStart: progress.slotStart }));
    },
    async view(progress, { db, clock, current, day }) {
      const picker = await slotPicker(db, clock, { chosenStart: progress.slotStart ?? '', day });
      const errors = current && progress.slotStart ? slotTaken(picker) : [];
      return { locals: { fields: { slot: SLOT_FIELD }, picker }, errors };
    },
  },
  {
    id: 'summary',
    label: 'Summary',
    read() {},
    check: () => [],
    async view(progress, { db, clock, current }) {
      if (!current) return { locals: { quote: null } };
      try {
        return { locals: { quote: await quoteBooking(db, clock, bookingInput(clock).parse(progress)) } };
      } catch (error) {
        // A chosen service withdrawn or not fitting since: back to Services' message.
        if (!(error instanceof ValidationError)) throw error;
        const slot = slotProblem(error);
        if (slot) return { locals: { quote: null }, errors: [slot] };
        const message = `${SERVICES_FIELD.label}: ${error.message}`;
        return { locals: { quote: null }, errors: [{ field: SERVICES_FIELD.id, message }] };
      }
    },
  },
];

/** The chosen time, if it is full or too soon now (or not among the listed days), as the step's message. */
function slotTaken(picker: SlotPickerLocals): FormError[] {
  const chosen = picker.days
    .flatMap((pickerDay) => pickerDay.slots)
    .find((slot) => slot.start === picker.chosenStart);
  if (chosen?.state === 'free') return [];
  const message = `${SLOT_FIELD.label}: the time you chose is ${chosen?.state === 'full' ? 'full' : 'no longer available'}. Please choose another.`;
  return [{ field: SLOT_FIELD.id, message }];
}

/** A refused slot, as the Date & time step's message; null when the error is about something else. */
export function slotProblem(error: ValidationError): FormError | null {
  const details: unknown[] = Array.isArray(error.details) ? error.details : [];
  const detail = details.find(
    (item): item is { path: string; message: string } =>
      typeof item === 'object' && item !== null && (item as { path?: unknown }).path === 'slotStart',
  );
  if (!detail) return null;
  const message = `${SLOT_FIELD.label}: that time cannot be booked (${detail.message}). Please choose another.`;
  return { field: SLOT_FIELD.id, message };
}

export function findStep(id: unknown): WizardStep | undefined {
  return WIZARD_STEPS.find((step) => step.id === id);
}

/** The patient's gender once it is one the catalogue knows. */
export function chosenGender(progress: WizardProgress): PatientGender | null {
  const { gender } = progress.patient;
  return gender === 'female' || gender === 'male' || gender === 'other' ? gender : null;
}
