import { expect } from 'chai';
import { manualClock } from '../../lib/clock.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { pricingHandlers } from '../../lib/pricing/pricing-handlers.js';
import { buildPatient, createService } from '../support/factories.js';
import { handle, sagaEvent } from '../support/handlers.js';

describe('pricing participant', () => {
  let db: Db;

  before(() => {
    db = createDb(process.env.DATABASE_URL as string, 5);
  });
  after(async () => {
    await db.destroy();
  });

  // Pricing starts once the slot is settled: a walk-in's SlotSkipped carries what it prices.
  const requested = (patient: ReturnType<typeof buildPatient>, serviceIds: string[]) =>
    sagaEvent('SlotSkipped', { request: { patient, serviceIds } });

  it('prices from the live catalogue and snapshots the prices it used', async () => {
    const a = await createService(db, { pricePaise: 60_000 });
    const b = await createService(db, { pricePaise: 45_001 });
    const handlers = pricingHandlers({ clock: manualClock('2026-06-10T06:00:00Z') });
    const [priced] = await handle(db, handlers, requested(buildPatient({ gender: 'male' }), [a.id, b.id]));
    expect(priced?.type).to.equal('PricingCalculated');
    const data = priced?.data as {
      services: { id: string; pricePaise: number }[];
      pricing: Record<string, unknown>;
      today: string;
    };
    expect(data.services.map((s) => s.pricePaise)).to.deep.equal([60_000, 45_001]);
    expect(data.today).to.equal('2026-06-10');
    // ₹1,050.01 is above ₹1,000: 12% of 105001 paise = 12600.12 → 12600.
    expect(data.pricing).to.deep.include({
      basePaise: 105_001,
      discountEligible: true,
      eligibility: 'amount',
      discountPaise: 12_600,
      finalPaise: 92_401,
    });
  });

  it("gives the birthday discount by the IST date, not the server's", async () => {
    const service = await createService(db, { pricePaise: 50_000 });
    const patient = buildPatient({ gender: 'female', dateOfBirth: '1990-03-02' });
    const clock = manualClock('2026-03-01T18:29:59Z'); // 23:59:59 IST on 1 March
    const handlers = pricingHandlers({ clock });
    const before = await handle(db, handlers, requested(patient, [service.id]));
    expect((before[0]?.data as { pricing: { eligibility: unknown } }).pricing.eligibility).to.equal(null);
    clock.set('2026-03-01T18:30:00Z'); // 00:00 IST on 2 March: her birthday
    const after = await handle(db, handlers, requested(patient, [service.id]));
    expect((after[0]?.data as { pricing: { eligibility: unknown; finalPaise: number } }).pricing).to.include({
      eligibility: 'birthday',
      finalPaise: 44_000,
    });
  });

  it('applies the newest discount percent and ignores an older change arriving late', async () => {
    const settings = await db.selectFrom('pricing.settings').selectAll().executeTakeFirstOrThrow();
    const handlers = pricingHandlers({ clock: manualClock('2026-06-10T06:00:00Z') });
    const change = (configVersion: number, discountBasisPoints: number) =>
      sagaEvent(
        'ConfigChanged',
        {
          configVersion,
          discountBasisPoints,
          dailyDiscountQuota: 100,
          paymentSimulationMode: 'success',
          paymentFailureRate: 0.2,
          actor: 'admin@example.com',
        },
        null,
      );
    try {
      await handle(db, handlers, change(settings.version + 2, 2_550));
      await handle(db, handlers, change(settings.version + 1, 500));
      const service = await createService(db, { pricePaise: 200_000 });
      const [priced] = await handle(db, handlers, requested(buildPatient(), [service.id]));
      expect((priced?.data as { pricing: Record<string, unknown> }).pricing).to.deep.include({
        discountBasisPoints: 2_550,
        discountPaise: 51_000,
        finalPaise: 149_000,
      });
    } finally {
      // Later suites' config versions must still apply.
      await db
        .updateTable('pricing.settings')
        .set({ discount_basis_points: settings.discount_basis_points, version: settings.version })
        .execute();
    }
  });
});
