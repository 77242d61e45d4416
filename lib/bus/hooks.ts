/** Observation points of the bus, used by metrics and by tests that need to see (or break) a step. */
export interface BusHooks {
  handled?(info: { group: string; type: string; durationMs: number; duplicate: boolean }): void;
  retried?(info: { group: string; type: string | null; deliveries: number; error: unknown }): void;
  deadLettered?(info: { group: string; type: string | null; deliveries: number; error: string }): void;
  published?(info: { count: number; lagMs: number }): void;
  /** Runs after the relay's XADD and before it marks the rows published (a throw rolls the marking back). */
  afterPublish?(count: number): void | Promise<void>;
  /**
   * Runs after a handler's transaction committed and before XACK (a throw leaves the entry pending: it is
   * redelivered and then found in the inbox).
   */
  beforeAck?(info: { group: string; eventId: string }): void | Promise<void>;
}
