import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { PaymentMode } from '../db/schema.js';

export interface GatewaySettings {
  mode: PaymentMode;
  failureRate: number;
  delayMs: number;
}

export type ChargeResult = { ok: true; reference: string } | { ok: false; reason: string };

/**
 * The simulated payment gateway (a real one would be called with the booking id as idempotency key).
 * `random` fails with the configured rate; `random()` is injectable so tests can decide the outcome.
 */
export async function simulateCharge(
  settings: GatewaySettings,
  random: () => number = () => randomInt(1_000_000) / 1_000_000,
): Promise<ChargeResult> {
  if (settings.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, settings.delayMs));
  const fails = settings.mode === 'fail' || (settings.mode === 'random' && random() < settings.failureRate);
  if (fails) return { ok: false, reason: 'The card was declined (simulated gateway).' };
  return { ok: true, reference: gatewayReference('pay') };
}

export function gatewayReference(kind: 'pay' | 'rfnd'): string {
  return `${kind}_sim_${randomBytes(8).toString('hex')}`;
}

/**
 * A refund at the simulated gateway. As a real gateway does with an idempotency key, a repeat of
 * the same key answers the first refund's reference, so a retried refund never pays out twice.
 */
export async function simulateRefund(
  settings: Pick<GatewaySettings, 'delayMs'>,
  refund: { idempotencyKey: string; amountPaise: number },
): Promise<{ ok: true; reference: string }> {
  if (settings.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, settings.delayMs));
  const digest = createHash('sha256').update(refund.idempotencyKey).digest('hex').slice(0, 16);
  return { ok: true, reference: `rfnd_sim_${digest}` };
}
