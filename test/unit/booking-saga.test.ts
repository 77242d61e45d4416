import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  awaitedStep,
  DEADLINE_REASON,
  QUOTA_REJECTED_REASON,
  SLOT_REJECTED_REASON,
  SAGA_STEP_ORDER,
  decide,
  type Emission,
  type SagaInput,
  type SagaState,
} from '../../lib/booking/booking-saga.js';
import { createEvent, eventTypes, type EventData } from '../../lib/events/catalogue.js';

const origin = { bookingId: randomUUID(), correlationId: randomUUID(), causationId: null };
const pricing: EventData<'DiscountQuotaReserved'>['pricing'] = {
  basePaise: 150_000,
  discountEligible: true,
  eligibility: 'amount',
  discountBasisPoints: 1200,
  discountPaise: 18_000,
  finalPaise: 132_000,
};
const DECLINED = 'The card was declined (simulated gateway).';

const slot = { slotStart: '2026-03-02T09:00:00+05:30' };
const request = {
  serviceIds: [randomUUID()],
  patient: { gender: 'male' as const, dateOfBirth: '1990-01-01' },
};

const inputs = {
  slotReserved: () =>
    createEvent(
      'SlotReserved',
      { ...slot, slotEnd: '2026-03-02T09:15:00+05:30', scheduleVersion: 1, request },
      origin,
    ),
  slotSkipped: () => createEvent('SlotSkipped', { request }, origin),
  slotRejected: () => createEvent('SlotRejected', { ...slot, reason: SLOT_REJECTED_REASON }, origin),
  slotReleased: () => createEvent('SlotReleased', slot, origin),
  reserved: () => createEvent('DiscountQuotaReserved', { pricing, day: '2026-03-01' }, origin),
  skipped: () =>
    createEvent(
      'DiscountQuotaSkipped',
      { pricing: { ...pricing, discountPaise: 0, finalPaise: 150_000 }, day: null },
      origin,
    ),
  rejected: () =>
    createEvent(
      'DiscountQuotaRejected',
      { pricing, day: '2026-03-01', reason: QUOTA_REJECTED_REASON },
      origin,
    ),
  released: () => createEvent('DiscountQuotaReleased', { day: '2026-03-01' }, origin),
  paid: () =>
    createEvent('PaymentCompleted', { amountPaise: 132_000, gatewayReference: 'pay_sim_1' }, origin),
  declined: () => createEvent('PaymentFailed', { amountPaise: 132_000, reason: DECLINED }, origin),
  deadline: (): SagaInput => ({ type: 'DeadlinePassed' }),
} satisfies Record<string, () => SagaInput>;
type InputName = keyof typeof inputs;

/** A pending booking past its slot step as a walk-in, unless the overrides say otherwise. */
function pending(overrides: Partial<SagaState> = {}): SagaState {
  return {
    status: 'PENDING',
    compensating: false,
    quotaOutcome: null,
    quotaReleased: false,
    slotOutcome: 'skipped',
    slotReleased: false,
    paymentOutcome: null,
    refunded: false,
    cancelling: false,
    reference: 'MC-7K2Q-9XD4',
    patient: { name: 'Meera Iyer', email: 'meera@example.com' },
    finalPaise: null,
    reason: null,
    ...overrides,
  };
}

/** Feeds the inputs in order (each a new event, as a participant would emit it); collects what is emitted. */
function run(
  names: InputName[],
  state: SagaState = pending(),
): { state: SagaState; emitted: Emission[]; types: string[] } {
  const emitted: Emission[] = [];
  let current = state;
  for (const name of names) {
    const decision = decide(current, inputs[name]());
    current = decision.state;
    emitted.push(...decision.emit);
  }
  return { state: current, emitted, types: emitted.map((emission) => emission.type) };
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

const TERMINAL_EVENTS = ['BookingConfirmed', 'BookingRejected', 'BookingFailed'];

describe('booking saga state machine', () => {
  describe('the flows of the spec in order', () => {
    it('confirms after a reserved discount and a payment, with the reference, amount and patient', () => {
      const { state, emitted } = run(['reserved', 'paid']);
      expect(state.status).to.equal('CONFIRMED');
      expect(emitted).to.deep.equal([
        {
          type: 'BookingConfirmed',
          data: {
            reference: 'MC-7K2Q-9XD4',
            finalPaise: 132_000,
            patient: { name: 'Meera Iyer', email: 'meera@example.com' },
          },
        },
      ]);
    });

    it('confirms after a skipped discount and a payment', () => {
      const { state, types } = run(['skipped', 'paid']);
      expect(state).to.include({ status: 'CONFIRMED', quotaOutcome: 'skipped' });
      expect(types).to.deep.equal(['BookingConfirmed']);
    });

    it('rejects at once when the quota is used up, with the quota reason', () => {
      const { state, emitted } = run(['rejected']);
      expect(state).to.include({ status: 'REJECTED', reason: QUOTA_REJECTED_REASON });
      expect(emitted).to.deep.equal([{ type: 'BookingRejected', data: { reason: QUOTA_REJECTED_REASON } }]);
    });

    it('compensates a failed payment: triggers compensation, waits for the release, then fails', () => {
      const failed = run(['reserved', 'declined']);
      expect(failed.state).to.include({
        status: 'PENDING',
        compensating: true,
        reason: `Payment failed: ${DECLINED}`,
      });
      expect(failed.emitted).to.deep.equal([
        {
          type: 'CompensationTriggered',
          data: { reason: `Payment failed: ${DECLINED}`, cause: 'payment_failed' },
        },
      ]);

      const released = run(['released'], failed.state);
      expect(released.state).to.include({ status: 'FAILED', quotaReleased: true });
      expect(released.emitted).to.deep.equal([
        { type: 'BookingFailed', data: { reason: `Payment failed: ${DECLINED}` } },
      ]);
    });

    it('fails a failed payment at once when nothing was reserved: compensation first, then the failure', () => {
      const { state, types } = run(['skipped', 'declined']);
      expect(state.status).to.equal('FAILED');
      expect(types).to.deep.equal(['CompensationTriggered', 'BookingFailed']);
    });
  });

  describe('the slot step', () => {
    const noSlotYet = () => pending({ slotOutcome: null });

    it('rejects at once when the slot is full, with the slot reason', () => {
      const { state, emitted } = run(['slotRejected'], noSlotYet());
      expect(state).to.include({ status: 'REJECTED', reason: SLOT_REJECTED_REASON, slotOutcome: 'rejected' });
      expect(emitted).to.deep.equal([{ type: 'BookingRejected', data: { reason: SLOT_REJECTED_REASON } }]);
    });

    it('confirms a booking holding a place; a later release moves nothing', () => {
      const { state, types } = run(['slotReserved', 'reserved', 'paid', 'slotReleased'], noSlotYet());
      expect(state).to.include({ status: 'CONFIRMED', slotOutcome: 'reserved' });
      expect(types).to.deep.equal(['BookingConfirmed']);
    });

    it('fails a failed payment only once both the place and the discount are given back, in any order', () => {
      for (const order of permutations<InputName>([
        'slotReserved',
        'reserved',
        'declined',
        'released',
        'slotReleased',
      ])) {
        const label = order.join(' → ');
        const { state, types } = run(order, noSlotYet());
        expect(state.status, label).to.equal('FAILED');
        expect(types, label).to.deep.equal(['CompensationTriggered', 'BookingFailed']);
        const withoutPlaceBack = run(
          order.filter((name) => name !== 'slotReleased'),
          noSlotYet(),
        );
        expect(withoutPlaceBack.state.status, label).to.equal('PENDING');
        expect(withoutPlaceBack.types, label).to.deep.equal(['CompensationTriggered']);
      }
    });

    it('fails a failed walk-in with no place to give back', () => {
      const { state, types } = run(['slotSkipped', 'skipped', 'declined'], noSlotYet());
      expect(state.status).to.equal('FAILED');
      expect(types).to.deep.equal(['CompensationTriggered', 'BookingFailed']);
    });

    it('keeps a quota rejection a rejection when the place is given back after it', () => {
      const { state, types } = run(['slotReserved', 'rejected', 'slotReleased'], noSlotYet());
      expect(state).to.include({ status: 'REJECTED', reason: QUOTA_REJECTED_REASON, slotReleased: true });
      expect(types).to.deep.equal(['BookingRejected']);
    });
  });

  describe('what a stalled saga is re-driven for', () => {
    it('owes the compensation while a place is held, and a rejection that still holds one', () => {
      const declined = run(
        ['slotReserved', 'reserved', 'declined', 'released'],
        pending({ slotOutcome: null }),
      );
      expect(declined.state.status).to.equal('PENDING');
      expect(awaitedStep(declined.state)).to.deep.equal({ event: 'CompensationTriggered', owed: true });
      expect(awaitedStep(run(['slotReleased'], declined.state).state)).to.equal(null);

      const deadline = run(['slotReserved', 'deadline'], pending({ slotOutcome: null }));
      expect(awaitedStep(deadline.state)).to.deep.equal({ event: 'CompensationTriggered', owed: true });

      const rejected = run(['slotReserved', 'rejected'], pending({ slotOutcome: null }));
      expect(awaitedStep(rejected.state)).to.deep.equal({ event: 'BookingRejected', owed: true });
      expect(awaitedStep(run(['slotReleased'], rejected.state).state)).to.equal(null);
    });

    it('asks again for a reschedule of a confirmed booking until its slot decision is heard', () => {
      const confirmed = pending({ status: 'CONFIRMED', slotOutcome: 'reserved', finalPaise: 50_000 });
      expect(awaitedStep({ ...confirmed, rescheduling: true })).to.deep.equal({
        event: 'RescheduleRequested',
        owed: true,
      });
      // Its confirmation is the confirmation participant's to ask for (confirmation-sweep.ts).
      expect(awaitedStep({ ...confirmed, rescheduling: false })).to.equal(null);
    });

    it('owes nothing to a booking whose slot was rejected', () => {
      expect(awaitedStep(run(['slotRejected'], pending({ slotOutcome: null })).state)).to.equal(null);
      expect(awaitedStep(run(['deadline', 'slotRejected'], pending({ slotOutcome: null })).state)).to.equal(
        null,
      );
      // Failed before the slot step was heard of: a place may be held, so ask once.
      expect(awaitedStep(run(['deadline'], pending({ slotOutcome: null })).state)).to.deep.equal({
        event: 'CompensationTriggered',
        owed: false,
      });
    });
  });

  describe('events in any order', () => {
    it('fails once the slot is released, whatever the order of reservation, payment failure and release', () => {
      for (const order of permutations<InputName>(['reserved', 'declined', 'released'])) {
        const { state, types } = run(order);
        expect(state.status, order.join(' → ')).to.equal('FAILED');
        expect(types, order.join(' → ')).to.deep.equal(['CompensationTriggered', 'BookingFailed']);
      }
    });

    it('holds a failed booking while its slot is reserved: PaymentFailed before DiscountQuotaReserved', () => {
      const early = run(['declined', 'reserved']);
      expect(early.state).to.include({ status: 'PENDING', compensating: true, quotaOutcome: 'reserved' });
      expect(early.types).to.deep.equal(['CompensationTriggered']);
      expect(run(['released'], early.state).types).to.deep.equal(['BookingFailed']);
    });

    it('remembers a release that came before its reservation (DiscountQuotaReleased before Reserved)', () => {
      const { state, types } = run(['declined', 'released', 'reserved']);
      expect(state).to.include({ status: 'FAILED', quotaReleased: true, quotaOutcome: 'reserved' });
      expect(types).to.deep.equal(['CompensationTriggered', 'BookingFailed']);
    });

    it('fails a compensating booking when the quota decision that comes late holds nothing (skipped or rejected)', () => {
      expect(run(['declined', 'skipped']).types).to.deep.equal(['CompensationTriggered', 'BookingFailed']);
      const rejected = run(['declined', 'rejected']);
      expect(rejected.state.status).to.equal('FAILED');
      expect(rejected.types).to.deep.equal(['CompensationTriggered', 'BookingFailed']);
    });

    it('confirms a payment that overtakes the quota decision once the decision comes, at its price', () => {
      for (const order of permutations<InputName>(['reserved', 'paid'])) {
        const { state, emitted } = run(order);
        expect(state.status, order.join(' → ')).to.equal('CONFIRMED');
        expect(emitted, order.join(' → ')).to.have.length(1);
        expect(emitted[0], order.join(' → ')).to.deep.include({ type: 'BookingConfirmed' });
        expect((emitted[0]!.data as { finalPaise: number }).finalPaise).to.equal(132_000);
      }
      const overtaken = run(['paid']);
      expect(overtaken.state).to.include({
        status: 'PENDING',
        paymentOutcome: 'completed',
        finalPaise: null,
      });
      expect(overtaken.types).to.deep.equal([]);
      expect(awaitedStep(overtaken.state)).to.deep.equal({ event: 'BookingRequested', owed: true });
    });

    it('confirms a payment that overtakes the slot decision only once the slot is heard of', () => {
      const overtaken = run(['reserved', 'paid'], pending({ slotOutcome: null }));
      expect(overtaken.state.status).to.equal('PENDING');
      expect(overtaken.types).to.deep.equal([]);
      const settled = run(['slotReserved'], overtaken.state);
      expect(settled.state).to.include({ status: 'CONFIRMED', slotOutcome: 'reserved' });
      expect(settled.types).to.deep.equal(['BookingConfirmed']);
    });

    it('has no second effect from a duplicate of any event', () => {
      const flows: InputName[][] = [
        ['reserved', 'paid'],
        ['skipped', 'paid'],
        ['rejected'],
        ['reserved', 'declined', 'released'],
        ['skipped', 'declined'],
      ];
      for (const flow of flows) {
        const once = run(flow);
        const twice = run(flow.flatMap((name) => [name, name]));
        const atTheEnd = run([...flow, ...flow]);
        expect(twice.types, flow.join(', ')).to.deep.equal(once.types);
        expect(twice.state, flow.join(', ')).to.deep.equal(once.state);
        expect(atTheEnd.types, flow.join(', ')).to.deep.equal(once.types);
      }
    });
  });

  describe('never backwards', () => {
    it('keeps a confirmed booking confirmed whatever comes after', () => {
      const confirmed = run(['reserved', 'paid']).state;
      for (const name of Object.keys(inputs) as InputName[]) {
        const { state, types } = run([name], confirmed);
        expect(state.status, name).to.equal('CONFIRMED');
        expect(types, name).to.deep.equal([]);
      }
    });

    it('keeps a failed booking failed: a late PaymentCompleted confirms nothing (the payment participant refunds it)', () => {
      const failed = run(['skipped', 'declined']).state;
      for (const name of Object.keys(inputs) as InputName[]) {
        const { state, types } = run([name], failed);
        expect(state.status, name).to.equal('FAILED');
        expect(types, name).to.deep.equal([]);
      }
      expect(run(['paid'], run(['reserved', 'deadline']).state).state.status).to.equal('FAILED');
    });

    it('keeps a rejected booking rejected', () => {
      const rejected = run(['rejected']).state;
      for (const name of Object.keys(inputs) as InputName[]) {
        const { state, types } = run([name], rejected);
        expect(state.status, name).to.equal('REJECTED');
        expect(types, name).to.deep.equal([]);
      }
    });

    it('holds its invariants for every sequence of up to four inputs, duplicates included', () => {
      const names = Object.keys(inputs) as InputName[];
      let sequences: InputName[][] = [[]];
      let checked = 0;
      for (let length = 1; length <= 4; length++) {
        sequences = sequences.flatMap((sequence) => names.map((name) => [...sequence, name]));
        for (const sequence of sequences) {
          checked += 1;
          const label = sequence.join(' → ');
          let state = pending({ slotOutcome: null });
          const types: string[] = [];
          for (const name of sequence) {
            const before = state.status;
            const decision = decide(state, inputs[name]());
            state = decision.state;
            types.push(...decision.emit.map((emission) => emission.type));
            if (before !== 'PENDING') expect(state.status, label).to.equal(before);
          }
          const terminal = types.filter((type) => TERMINAL_EVENTS.includes(type));
          expect(terminal.length, label).to.be.at.most(1);
          expect(types.filter((type) => type === 'CompensationTriggered').length, label).to.be.at.most(1);
          const statusEvent = {
            CONFIRMED: 'BookingConfirmed',
            REJECTED: 'BookingRejected',
            FAILED: 'BookingFailed',
            CANCELLED: 'BookingCancelled',
            PENDING: undefined,
          }[state.status];
          expect(terminal[0], label).to.equal(statusEvent);
          if (types.includes('BookingFailed')) {
            expect(types.indexOf('CompensationTriggered'), label).to.be.within(
              0,
              types.indexOf('BookingFailed'),
            );
          }
          if (types.includes('BookingConfirmed'))
            expect(types, label).not.to.include('CompensationTriggered');
          // A compensating booking waits only for what it holds (or a decision not yet seen).
          const holds = (outcome: SagaState['quotaOutcome'], released: boolean) =>
            outcome === null || (outcome === 'reserved' && !released);
          if (state.status === 'PENDING' && state.compensating) {
            expect(
              holds(state.quotaOutcome, state.quotaReleased) || holds(state.slotOutcome, state.slotReleased),
              label,
            ).to.equal(true);
          }
          // Failed by a payment, not by the deadline: the discount and the place were given back first.
          if (state.status === 'FAILED' && state.reason !== DEADLINE_REASON) {
            if (state.quotaOutcome === 'reserved') expect(state.quotaReleased, label).to.equal(true);
            if (state.slotOutcome === 'reserved') expect(state.slotReleased, label).to.equal(true);
          }
        }
      }
      const n = names.length;
      expect(n).to.equal(11);
      expect(checked).to.equal(n + n ** 2 + n ** 3 + n ** 4);
    });
  });

  describe('the deadline', () => {
    it('fails a pending booking at once with compensation, then tells the patient', () => {
      const { state, emitted } = run(['reserved', 'deadline']);
      expect(state).to.include({ status: 'FAILED', compensating: true, reason: DEADLINE_REASON });
      expect(emitted).to.deep.equal([
        { type: 'CompensationTriggered', data: { reason: DEADLINE_REASON, cause: 'deadline' } },
        { type: 'BookingFailed', data: { reason: DEADLINE_REASON } },
      ]);
    });

    it('fails a booking that is compensating already without triggering compensation twice', () => {
      const compensating = run(['reserved', 'declined']).state;
      const { state, emitted } = run(['deadline'], compensating);
      expect(state).to.include({ status: 'FAILED', reason: DEADLINE_REASON });
      expect(emitted).to.deep.equal([{ type: 'BookingFailed', data: { reason: DEADLINE_REASON } }]);
      expect(run(['released'], state).types).to.deep.equal([]);
    });

    it('leaves a finished booking alone, and acts once', () => {
      expect(run(['deadline'], run(['reserved', 'paid']).state).types).to.deep.equal([]);
      expect(run(['deadline'], run(['rejected']).state).types).to.deep.equal([]);
      expect(run(['deadline', 'deadline']).types).to.deep.equal(['CompensationTriggered', 'BookingFailed']);
    });

    it('ignores the late steps of a booking failed by its deadline', () => {
      const { state, types } = run(['deadline', 'reserved', 'paid', 'released']);
      expect(state.status).to.equal('FAILED');
      expect(types).to.deep.equal(['CompensationTriggered', 'BookingFailed']);
    });
  });

  it('orders every saga event for timeline ties', () => {
    expect([...SAGA_STEP_ORDER].sort()).to.deep.equal(
      eventTypes.filter((type) => type !== 'ConfigChanged' && type !== 'ScheduleChanged').sort(),
    );
  });
});
