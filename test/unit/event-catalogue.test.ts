import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  catalogue,
  createEvent,
  followUp,
  InvalidEventError,
  parseEvent,
  streamOf,
} from '../../lib/events/catalogue.js';

const origin = () => ({ bookingId: randomUUID(), correlationId: randomUUID(), causationId: null });
const released = () => createEvent('DiscountQuotaReleased', { day: '2026-11-24' }, origin());

describe('event catalogue', () => {
  it('builds an envelope with every field the spec names', () => {
    const event = released();
    expect(Object.keys(event).sort()).to.deep.equal(
      [
        'bookingId',
        'causationId',
        'correlationId',
        'data',
        'eventId',
        'occurredAt',
        'type',
        'version',
      ].sort(),
    );
    expect(event.version).to.equal(1);
    expect(new Date(event.occurredAt).toISOString()).to.equal(event.occurredAt);
  });

  it('round-trips through JSON and validation', () => {
    const event = released();
    expect(parseEvent(JSON.parse(JSON.stringify(event)))).to.deep.equal(event);
  });

  it('refuses to build an event whose data breaks its schema', () => {
    expect(() => createEvent('DiscountQuotaReleased', { day: 'tomorrow' }, origin())).to.throw();
    expect(() =>
      createEvent('PaymentCompleted', { amountPaise: 10.5, gatewayReference: 'x' }, origin()),
    ).to.throw();
  });

  it('rejects unknown types, wrong versions, bad envelopes and bad data', () => {
    const event = released();
    const broken = [
      { ...event, type: 'BookingTeleported' },
      { ...event, version: 2 },
      { ...event, eventId: 'not-a-uuid' },
      { ...event, correlationId: undefined },
      { ...event, occurredAt: 'yesterday' },
      { ...event, data: { day: 42 } },
      'just a string',
      null,
    ];
    for (const raw of broken) expect(() => parseEvent(raw), JSON.stringify(raw)).to.throw(InvalidEventError);
  });

  it('keeps the booking and correlation id down the saga and points at the cause', () => {
    const cause = released();
    const next = followUp(cause, 'BookingFailed', { reason: 'Payment failed.' });
    expect(next.bookingId).to.equal(cause.bookingId);
    expect(next.correlationId).to.equal(cause.correlationId);
    expect(next.causationId).to.equal(cause.eventId);
    expect(next.eventId).to.not.equal(cause.eventId);
  });

  it('puts each event on the stream of the participant that emits it', () => {
    expect(streamOf('BookingRequested')).to.equal('booking');
    expect(streamOf('PricingCalculated')).to.equal('pricing');
    expect(streamOf('DiscountQuotaRejected')).to.equal('quota');
    expect(streamOf('PaymentRefunded')).to.equal('payment');
    expect(streamOf('ConfigChanged')).to.equal('config');
    expect(Object.keys(catalogue)).to.include.members([
      'BookingRequested',
      'PricingCalculated',
      'DiscountQuotaReserved',
      'DiscountQuotaSkipped',
      'DiscountQuotaRejected',
      'DiscountQuotaReleased',
      'PaymentCompleted',
      'PaymentFailed',
      'PaymentRefunded',
      'CompensationTriggered',
      'BookingConfirmed',
      'BookingRejected',
      'BookingFailed',
      'CancellationRequested',
      'BookingCancelled',
      'RescheduleRequested',
      'RescheduleRejected',
      'BookingRescheduled',
    ]);
  });
});
