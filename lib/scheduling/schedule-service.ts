import { randomUUID } from 'node:crypto';
import { appendToOutbox } from '../bus/outbox.js';
import type { Clock } from '../clock.js';
import type { Db, Trx } from '../db/database.js';
import { ValidationError } from '../errors.js';
import { createEvent } from '../events/catalogue.js';
import { readSchedule, writeSchedule, type VersionedSchedule } from './schedule-repository.js';
import {
  applyChange,
  isClosedOn,
  istParts,
  scheduleSchema,
  slotStartingAt,
  type Schedule,
  type ScheduleChange,
} from './slot-rules.js';

export type ScheduleView = Schedule & { version: number; updatedAt: string; updatedBy: string | null };

function view({ schedule, version, updatedAt, updatedBy }: VersionedSchedule): ScheduleView {
  return { ...schedule, version, updatedAt, updatedBy };
}

export async function getSchedule(db: Db): Promise<ScheduleView> {
  return view(await readSchedule(db));
}

/**
 * Saves an admin's change, records who made it (before/after) and emits `ScheduleChanged` in one
 * transaction. It waits for the reservations in flight (see readSchedule); every later one sees it.
 * Places already held stay: the answer says how many upcoming ones the change leaves over capacity or
 * on a closed day, so the clinic can call those patients.
 */
export async function updateSchedule(
  db: Db,
  clock: Clock,
  actor: string,
  change: ScheduleChange,
): Promise<{ schedule: ScheduleView; notices: string[] }> {
  const notices = await db.transaction().execute(async (trx) => {
    const current = await readSchedule(trx, 'exclusive');
    const parsed = scheduleSchema.safeParse(applyChange(current.schedule, change));
    if (!parsed.success) {
      const details = parsed.error.issues.map((issue) => ({
        path: issue.path.join('.'),
        message: issue.message,
      }));
      throw new ValidationError('The schedule does not fit together.', details);
    }
    const after = parsed.data;
    const version = current.version + 1;
    await writeSchedule(trx, after, version, actor);
    const event = createEvent(
      'ScheduleChanged',
      { scheduleVersion: version, schedule: after, actor },
      { bookingId: null, correlationId: randomUUID(), causationId: null },
      clock.now(),
    );
    await trx
      .insertInto('audit.entries')
      .values({
        at: new Date(event.occurredAt),
        type: 'AdminScheduleUpdated',
        actor,
        booking_id: null,
        correlation_id: event.correlationId,
        event_id: null,
        data: JSON.stringify({ before: current.schedule, after, version }),
      })
      .execute();
    await appendToOutbox(trx, [event]);
    return heldPlacesOutsideSchedule(trx, after, clock.now());
  });
  return { schedule: await getSchedule(db), notices };
}

/** The upcoming places that a schedule no longer fits: over a lowered capacity, or on a closed day. */
async function heldPlacesOutsideSchedule(trx: Trx, schedule: Schedule, now: Date): Promise<string[]> {
  const slots = await trx
    .selectFrom('scheduling.slots')
    .select(['start', 'held'])
    .where('start', '>=', now)
    .where('held', '>', 0)
    .execute();
  let overCapacity = 0;
  let closed = 0;
  for (const slot of slots) {
    if (isClosedOn(schedule, istParts(slot.start).date) || !slotStartingAt(schedule, slot.start))
      closed += slot.held;
    else if (slot.held > schedule.capacity) overCapacity += 1;
  }
  const notices: string[] = [];
  if (overCapacity > 0)
    notices.push(
      `${overCapacity} upcoming ${overCapacity === 1 ? 'slot holds' : 'slots hold'} more patients than the new capacity. Those bookings keep their places; no new ones are taken there.`,
    );
  if (closed > 0)
    notices.push(
      `${closed} upcoming ${closed === 1 ? 'appointment is' : 'appointments are'} at times the clinic is now closed. They keep their places: please contact those patients.`,
    );
  return notices;
}
