import type { Db } from '../db/database.js';

export interface AppliedConfig {
  participant: 'pricing' | 'discount-quota' | 'payment';
  version: number;
  appliedAt: string;
}

/** The config version each participant holds in its own settings, and since when. */
export async function appliedConfigVersions(db: Db): Promise<AppliedConfig[]> {
  const [pricing, quota, payment] = await Promise.all(
    (['pricing.settings', 'quota.settings', 'payment.settings'] as const).map((table) =>
      db.selectFrom(table).select(['version', 'applied_at']).where('id', '=', 1).executeTakeFirstOrThrow(),
    ),
  );
  const view = (participant: AppliedConfig['participant'], row: { version: number; applied_at: Date }) => ({
    participant,
    version: row.version,
    appliedAt: row.applied_at.toISOString(),
  });
  return [view('pricing', pricing!), view('discount-quota', quota!), view('payment', payment!)];
}
