// A booking taken through the booking participant's real handlers up to BookingConfirmed, without the
// other workers: for tests of what a confirmation leaves behind (the receipt).
import { randomUUID } from 'node:crypto';
import type { Handlers } from '../../lib/bus/consumer.js';
import { requestBooking } from '../../lib/booking/booking-service.js';
import { systemClock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/database.js';
import type { Event } from '../../lib/events/catalogue.js';
import { discountPaise } from '../../lib/money.js';
import { buildPatient } from './factories.js';
import { handle, sagaEvent } from './handlers.js';

export interface PaidBooking {
  id: string;
  reference: string;
  correlationId: string;
  finalPaise: number;
  gatewayReference: string;
}

/** Requests a booking and settles its quota step (a discount of `discountBasisPoints` if given). */
export async function pricedBooking(
  db: Db,
  handlers: Handlers,
  options: {
    userId?: string;
    services: { id: string; name: string; pricePaise: number }[];
    patient?: ReturnType<typeof buildPatient>;
    discountBasisPoints?: number;
  },
): Promise<PaidBooking> {
  const patient = options.patient ?? buildPatient();
  const { booking } = await requestBooking(
    db,
    {
      userId: options.userId ?? randomUUID(),
      patient,
      serviceIds: options.services.map((service) => service.id),
    },
    { clock: systemClock, deadlineMs: 600_000, redriveAfterMs: 60_000 },
  );
  const basePaise = options.services.reduce((sum, service) => sum + service.pricePaise, 0);
  const basisPoints = options.discountBasisPoints ?? 0;
  const discount = discountPaise(basePaise, basisPoints);
  const pricing = {
    basePaise,
    discountEligible: basisPoints > 0,
    eligibility: basisPoints > 0 ? ('amount' as const) : null,
    discountBasisPoints: basisPoints,
    discountPaise: discount,
    finalPaise: basePaise - discount,
  };
  const origin = (event: Event) => ({ ...event, correlationId: booking.correlationId }) as Event;
  // A walk-in: the scheduling step has nothing to hold.
  await handle(
    db,
    handlers,
    origin(
      sagaEvent(
        'SlotSkipped',
        {
          request: {
            serviceIds: options.services.map((service) => service.id),
            patient: { gender: patient.gender, dateOfBirth: patient.dateOfBirth },
          },
        },
        booking.id,
      ),
    ),
  );
  await handle(
    db,
    handlers,
    origin(
      sagaEvent(
        'PricingCalculated',
        { services: options.services, pricing, today: '2026-12-01' },
        booking.id,
      ),
    ),
  );
  await handle(
    db,
    handlers,
    origin(
      basisPoints > 0
        ? sagaEvent('DiscountQuotaReserved', { pricing, day: '2026-12-01' }, booking.id)
        : sagaEvent('DiscountQuotaSkipped', { pricing, day: null }, booking.id),
    ),
  );
  return {
    id: booking.id,
    reference: booking.reference,
    correlationId: booking.correlationId,
    finalPaise: pricing.finalPaise,
    gatewayReference: `pay_sim_${randomUUID().slice(0, 16)}`,
  };
}

/** The payment outcome that confirms the booking (the booking participant then issues the receipt). */
export function paymentCompleted(booking: PaidBooking): Event {
  return {
    ...sagaEvent(
      'PaymentCompleted',
      { amountPaise: booking.finalPaise, gatewayReference: booking.gatewayReference },
      booking.id,
    ),
    correlationId: booking.correlationId,
  } as Event;
}

export async function confirmedBooking(
  db: Db,
  handlers: Handlers,
  options: Parameters<typeof pricedBooking>[2],
): Promise<PaidBooking> {
  const booking = await pricedBooking(db, handlers, options);
  await handle(db, handlers, paymentCompleted(booking));
  return booking;
}
