import { randomBytes, randomInt } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import type { Db } from '../db/database.js';
import type { GatewayChargesTable, PaymentMode } from '../db/schema.js';

export interface GatewaySettings {
  mode: PaymentMode;
  failureRate: number;
  delayMs: number;
}

/** The gateway's record of one idempotency key, as it answers every call with that key. */
export interface GatewayCharge {
  status: 'succeeded' | 'declined' | 'cancelled' | 'refunded';
  amountPaise: number;
  reference: string;
  declineReason: string | null;
  refundReference: string | null;
}

export const DECLINED = 'The card was declined (simulated gateway).';

/**
 * The simulated payment gateway, shaped like Razorpay's or Stripe's: every call carries an
 * idempotency key (the booking id) and the gateway keeps its own record of charges by key, in its own
 * schema, so a repeated call answers what the first one did and a key is charged at most once. The
 * delay happens before the gateway's write, holding no connection. `random()` is injectable for tests.
 */
export class SimulatedGateway {
  constructor(
    private readonly db: Db,
    private readonly random: () => number = () => randomInt(1_000_000) / 1_000_000,
  ) {}

  /** Charges once per key; a key cancelled before its charge answers `cancelled`. */
  async charge(key: string, amountPaise: number, settings: GatewaySettings): Promise<GatewayCharge> {
    if (settings.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, settings.delayMs));
    const declined =
      settings.mode === 'fail' || (settings.mode === 'random' && this.random() < settings.failureRate);
    const charged = await this.db
      .insertInto('gateway.charges')
      .values({
        idempotency_key: key,
        amount_paise: amountPaise,
        status: declined ? 'declined' : 'succeeded',
        reference: reference('pay'),
        decline_reason: declined ? DECLINED : null,
      })
      .onConflict((conflict) => conflict.column('idempotency_key').doNothing())
      .returningAll()
      .executeTakeFirst();
    // A key used before answers what it answered then.
    return charged ? answerOf(charged) : (this.lookup(key) as Promise<GatewayCharge>);
  }

  /**
   * Voids a key (as a payment intent is cancelled): a charge not yet made is then refused. Returns the
   * key's record, which shows a charge that got in first (the caller refunds it).
   */
  async cancel(key: string): Promise<GatewayCharge> {
    await this.db
      .insertInto('gateway.charges')
      .values({ idempotency_key: key, amount_paise: 0, status: 'cancelled', reference: reference('void') })
      .onConflict((conflict) => conflict.column('idempotency_key').doNothing())
      .execute();
    return this.lookup(key) as Promise<GatewayCharge>;
  }

  /** Refunds a succeeded charge in full, once: a repeat answers the first refund. */
  async refund(key: string): Promise<GatewayCharge | null> {
    await this.db
      .updateTable('gateway.charges')
      .set({ status: 'refunded', refund_reference: reference('rfnd'), updated_at: sql<Date>`now()` })
      .where('idempotency_key', '=', key)
      .where('status', '=', 'succeeded')
      .execute();
    return this.lookup(key);
  }

  async lookup(key: string): Promise<GatewayCharge | null> {
    const row = await this.db
      .selectFrom('gateway.charges')
      .selectAll()
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
    return row ? answerOf(row) : null;
  }
}

function answerOf(row: Selectable<GatewayChargesTable>): GatewayCharge {
  return {
    status: row.status,
    amountPaise: row.amount_paise,
    reference: row.reference,
    declineReason: row.decline_reason,
    refundReference: row.refund_reference,
  };
}

function reference(kind: 'pay' | 'rfnd' | 'void'): string {
  return `${kind}_sim_${randomBytes(8).toString('hex')}`;
}
