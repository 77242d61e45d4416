import { sql } from 'kysely';
import type { Db, Trx } from '../db/database.js';
import type { Service } from '../db/schema.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { serviceFitsPatient, type PatientGender, type ServiceGender } from './service-rules.js';

export interface ServiceView {
  id: string;
  name: string;
  description: string;
  pricePaise: number;
  gender: ServiceGender;
  active: boolean;
}

export type ServiceInput = Omit<ServiceView, 'id'>;

const toView = (row: Service): ServiceView => ({
  id: row.id,
  name: row.name,
  description: row.description,
  pricePaise: row.price_paise,
  gender: row.gender,
  active: row.active,
});

export async function listServices(
  db: Db,
  options: { includeInactive?: boolean } = {},
): Promise<ServiceView[]> {
  let query = db.selectFrom('catalogue.services').selectAll().orderBy('name');
  if (!options.includeInactive) query = query.where('active', '=', true);
  return (await query.execute()).map(toView);
}

/**
 * The chosen services, each active and fitting the patient, in the order given (ids distinct);
 * otherwise a 422 naming each one that cannot be booked.
 */
export async function bookableServices(
  db: Db,
  serviceIds: readonly string[],
  gender: PatientGender,
): Promise<ServiceView[]> {
  const rows = await db.selectFrom('catalogue.services').selectAll().where('id', 'in', serviceIds).execute();
  const byId = new Map(rows.map((row) => [row.id, toView(row)]));
  const problems = serviceIds.flatMap((id) => {
    const service = byId.get(id);
    if (!service || !service.active) return [{ serviceId: id, problem: 'This service is not offered.' }];
    if (!serviceFitsPatient(service.gender, gender)) {
      return [{ serviceId: id, problem: `${service.name} is offered to ${service.gender} patients only.` }];
    }
    return [];
  });
  if (problems.length > 0) throw new ValidationError('Some chosen services cannot be booked.', problems, 422);
  return serviceIds.map((id) => byId.get(id) as ServiceView);
}

async function audit(trx: Trx, actor: string, type: string, data: unknown): Promise<void> {
  await trx
    .insertInto('audit.entries')
    .values({
      at: new Date(),
      type,
      actor,
      booking_id: null,
      correlation_id: null,
      event_id: null,
      data: JSON.stringify(data),
    })
    .execute();
}

function nameTaken(error: unknown): boolean {
  return (error as { code?: string; constraint?: string }).constraint === 'services_name_key';
}

export async function createService(db: Db, actor: string, input: ServiceInput): Promise<ServiceView> {
  try {
    return await db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('catalogue.services')
        .values({
          name: input.name,
          description: input.description,
          price_paise: input.pricePaise,
          gender: input.gender,
          active: input.active,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await audit(trx, actor, 'AdminServiceCreated', { after: toView(row) });
      return toView(row);
    });
  } catch (error) {
    if (nameTaken(error))
      throw new ConflictError('A service with this name already exists.', 'service_name_taken');
    throw error;
  }
}

/** Prices change for bookings priced from now on; bookings already priced keep their snapshot. */
export async function updateService(
  db: Db,
  actor: string,
  id: string,
  change: Partial<ServiceInput>,
): Promise<ServiceView> {
  try {
    return await db.transaction().execute(async (trx) => {
      const before = await trx
        .selectFrom('catalogue.services')
        .selectAll()
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!before) throw new NotFoundError('No such service.');
      const row = await trx
        .updateTable('catalogue.services')
        .set({
          ...(change.name !== undefined ? { name: change.name } : {}),
          ...(change.description !== undefined ? { description: change.description } : {}),
          ...(change.pricePaise !== undefined ? { price_paise: change.pricePaise } : {}),
          ...(change.gender !== undefined ? { gender: change.gender } : {}),
          ...(change.active !== undefined ? { active: change.active } : {}),
          updated_at: sql<Date>`now()`,
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await audit(trx, actor, 'AdminServiceUpdated', { before: toView(before), after: toView(row) });
      return toView(row);
    });
  } catch (error) {
    if (nameTaken(error))
      throw new ConflictError('A service with this name already exists.', 'service_name_taken');
    throw error;
  }
}
