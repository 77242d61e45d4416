import type { Request, Response } from 'express';
import { getBookingViews } from '../../lib/booking/booking-service.js';
import { addDays, istToday, isValidIsoDate } from '../../lib/clock.js';
import { ValidationError } from '../../lib/errors.js';
import { getSchedule, updateSchedule, type ScheduleView } from '../../lib/scheduling/schedule-service.js';
import { scheduleChangeSchema, slotsOfDay, WEEKDAYS } from '../../lib/scheduling/slot-rules.js';
import { currentUser } from '../auth/guards.js';
import { parse } from '../middleware/validate.js';
import type { FormError } from '../views/helpers.js';
import type { AdminDeps } from './admin.js';
import { appointmentsQuery } from './admin-schedule.js';
import { checkboxField, numberField } from './admin-forms.js';
import { formBody, formErrors, shownText, type FieldLabels } from './pages/forms.js';

declare module 'express-session' {
  interface SessionData {
    /** What the last schedule change left for the admin to act on, shown once after saving. */
    scheduleSaved?: { version: number; notices: string[] };
  }
}

type Handler = (req: Request, res: Response) => Promise<void>;
type Fields = Record<string, unknown>;
export type ScheduleFormValues = {
  days: Record<string, { open: boolean; opens: string; closes: string }>;
  slotMinutes: string;
  capacity: string;
  addClosedDate: string;
  removeClosedDates: string[];
};

const dayName = (day: string) => day.charAt(0).toUpperCase() + day.slice(1);

/** Each field's control and the label its messages start with (paths as the schedule schema names them). */
export const SCHEDULE_FIELDS: FieldLabels = {
  slotMinutes: { id: 'slot-minutes', label: 'Slot length (minutes)' },
  capacity: { id: 'capacity', label: 'Capacity per slot' },
  closedDates: { id: 'add-closed-date', label: 'Add a closed date' },
  addClosedDate: { id: 'add-closed-date', label: 'Add a closed date' },
  '': { id: 'slot-minutes', label: 'Schedule' },
  ...Object.fromEntries(
    WEEKDAYS.flatMap((day) => [
      [`hours.${day}`, { id: `${day}-opens`, label: dayName(day) }],
      [`hours.${day}.opens`, { id: `${day}-opens`, label: `${dayName(day)} from` }],
      [`hours.${day}.closes`, { id: `${day}-closes`, label: `${dayName(day)} to` }],
    ]),
  ),
};

const list = (value: unknown): unknown[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/**
 * The schedule form as the API's change: every weekday's hours (a day not ticked open is closed),
 * the slot length and capacity, and the closed dates less those ticked for removal plus the one added.
 */
export function scheduleForm(body: Fields, current: ScheduleView, today: string): Fields {
  const hours = Object.fromEntries(
    WEEKDAYS.map((day) => {
      const open = checkboxField(body[`${day}Open`]);
      if (open === false) return [day, null];
      // A doubled or odd checkbox value is passed on for the schema to refuse.
      return [day, open === true ? { opens: body[`${day}Opens`], closes: body[`${day}Closes`] } : open];
    }),
  );
  const removed = list(body.removeClosedDates);
  const added = body.addClosedDate;
  if (typeof added === 'string' && isValidIsoDate(added) && added < today)
    throw new ValidationError('Please correct the highlighted fields.', [
      { path: 'addClosedDate', message: 'today or a later date' },
    ]);
  return {
    hours,
    slotMinutes: numberField(body.slotMinutes),
    capacity: numberField(body.capacity),
    closedDates: [
      ...current.closedDates.filter((date) => !removed.includes(date)),
      ...(added === undefined || added === '' ? [] : [added]),
    ],
  };
}

function valuesOf(schedule: ScheduleView): ScheduleFormValues {
  return {
    days: Object.fromEntries(
      WEEKDAYS.map((day) => {
        const hours = schedule.hours[day];
        return [day, { open: hours !== null, opens: hours?.opens ?? '', closes: hours?.closes ?? '' }];
      }),
    ),
    slotMinutes: String(schedule.slotMinutes),
    capacity: String(schedule.capacity),
    addClosedDate: '',
    removeClosedDates: [],
  };
}

function postedValues(body: Fields): ScheduleFormValues {
  return {
    days: Object.fromEntries(
      WEEKDAYS.map((day) => [
        day,
        {
          open: body[`${day}Open`] === 'on',
          opens: shownText(body[`${day}Opens`]),
          closes: shownText(body[`${day}Closes`]),
        },
      ]),
    ),
    slotMinutes: shownText(body.slotMinutes),
    capacity: shownText(body.capacity),
    addClosedDate: shownText(body.addClosedDate),
    removeClosedDates: list(body.removeClosedDates).filter(
      (date): date is string => typeof date === 'string',
    ),
  };
}

/** One message per field: a list's item (closedDates.3) is reported on the list's field. */
function scheduleErrors(res: Response, error: unknown): { status: number; errors: FormError[] } {
  if (error instanceof ValidationError && Array.isArray(error.details)) {
    const details = (error.details as { path?: unknown; message?: unknown }[]).map((detail) => ({
      ...detail,
      path: String(detail.path ?? '').replace(/^closedDates\.\d+$/, 'closedDates'),
    }));
    const { status, errors } = formErrors(res, new ValidationError(error.message, details), SCHEDULE_FIELDS);
    const seen = new Set<string | null>();
    return { status, errors: errors.filter((e) => !seen.has(e.field) && Boolean(seen.add(e.field))) };
  }
  return formErrors(res, error, SCHEDULE_FIELDS);
}

/** The admin pages of the clinic's schedule and of one day's appointments. */
export function schedulePageHandlers(
  deps: AdminDeps,
): Record<'GET /admin/schedule' | 'POST /admin/schedule' | 'GET /admin/appointments', Handler> {
  const renderSchedule = async (
    req: Request,
    res: Response,
    locals: { values?: ScheduleFormValues; errors?: FormError[] },
    status = 200,
  ) => {
    const schedule = await getSchedule(deps.db);
    const saved = req.session.scheduleSaved ?? null;
    delete req.session.scheduleSaved;
    res.status(status).render('pages/admin/schedule', {
      title: 'Schedule',
      schedule,
      weekdays: WEEKDAYS.map((day) => ({ id: day, name: dayName(day) })),
      values: locals.values ?? valuesOf(schedule),
      errors: locals.errors ?? [],
      saved: status === 200 ? saved : null,
      today: istToday(deps.clock),
    });
  };

  return {
    'GET /admin/schedule': (req, res) => renderSchedule(req, res, {}),
    'POST /admin/schedule': async (req, res) => {
      const body = formBody(req);
      try {
        const current = await getSchedule(deps.db);
        const change = parse(scheduleChangeSchema, scheduleForm(body, current, istToday(deps.clock)));
        const { schedule, notices } = await updateSchedule(
          deps.db,
          deps.clock,
          currentUser(req).email,
          change,
        );
        deps.published();
        req.session.scheduleSaved = { version: schedule.version, notices };
        res.redirect(303, '/admin/schedule');
      } catch (error) {
        const { status, errors } = scheduleErrors(res, error);
        await renderSchedule(req, res, { values: postedValues(body), errors }, status);
      }
    },
    'GET /admin/appointments': async (req, res) => {
      const today = istToday(deps.clock);
      const asked = req.query.date;
      const input = asked === undefined || asked === '' ? today : asked;
      const result = appointmentsQuery.safeParse({ date: input });
      if (!result.success) {
        const errors = [
          { field: 'date', message: 'Date: enter a real date as YYYY-MM-DD, between 2000 and 2999' },
        ];
        res.status(400).render('pages/admin/appointments', {
          title: 'Appointments',
          date: null,
          shownDate: shownText(asked),
          appointments: [],
          errors,
          today,
        });
        return;
      }
      const { date } = result.data;
      const [appointments, schedule] = await Promise.all([
        getBookingViews(deps.db, { appointmentDate: date }),
        getSchedule(deps.db),
      ]);
      const slots = slotsOfDay(schedule, date);
      res.render('pages/admin/appointments', {
        title: 'Appointments',
        date,
        shownDate: date,
        previous: addDays(date, -1),
        next: addDays(date, 1),
        appointments,
        places: slots.length * schedule.capacity,
        closed: slots.length === 0,
        errors: [],
        today,
      });
    },
  };
}
