import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export type Role = 'user' | 'admin';
export type BookingStatus = 'PENDING' | 'CONFIRMED' | 'REJECTED' | 'FAILED' | 'CANCELLED';
export type ServiceGender = 'all' | 'female' | 'male';
export type PatientGender = 'female' | 'male' | 'other';
export type PaymentMode = 'success' | 'fail' | 'random';

export interface UsersTable {
  id: Generated<string>;
  email: string;
  name: string;
  password_hash: string;
  role: Role;
  session_version: Generated<number>;
  created_at: CreatedAt;
}

export interface ServicesTable {
  id: Generated<string>;
  name: string;
  description: string;
  price_paise: number;
  gender: ServiceGender;
  active: boolean;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

/** The admin-facing configuration; participants keep their own applied copies. */
export interface SettingsTable {
  id: number;
  discount_basis_points: number;
  daily_discount_quota: number;
  payment_simulation_mode: PaymentMode | null;
  payment_failure_rate: number | null;
  version: number;
  updated_at: UpdatedAt;
  updated_by: string | null;
}

export interface BookingsTable {
  id: string;
  reference: string;
  user_id: string;
  status: BookingStatus;
  reason: string | null;
  correlation_id: string;
  patient_name: string;
  patient_gender: PatientGender;
  patient_date_of_birth: string;
  patient_phone: string;
  patient_email: string;
  idempotency_key: string | null;
  request_hash: string;
  quota_outcome: 'reserved' | 'skipped' | 'rejected' | null;
  quota_released: Generated<boolean>;
  compensating: Generated<boolean>;
  base_paise: number | null;
  discount_basis_points: number | null;
  discount_paise: number | null;
  final_paise: number | null;
  discount_eligible: boolean | null;
  discount_applied: boolean | null;
  slot_start: Date | null;
  slot_end: Date | null;
  slot_outcome: 'reserved' | 'skipped' | 'rejected' | null;
  slot_released: Generated<boolean>;
  deadline_at: Date;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  finished_at: Date | null;
  payment_outcome: 'completed' | 'failed' | null;
  refunded: Generated<boolean>;
  /** Re-drives done so far, and when the next is due (null: nothing is awaited). */
  redrives: Generated<number>;
  redrive_at: Date | null;
  /** redrive_at IS NOT NULL, kept by PostgreSQL (migration 0012): what the re-drive sweep's index holds. */
  redrive_armed: ColumnType<boolean, never, never>;
  /** A change of a confirmed booking under way. */
  change: Generated<'cancelling' | 'rescheduling' | null>;
  change_reason: Generated<string | null>;
  change_actor: Generated<string | null>;
  change_requested_at: Generated<Date | null>;
  change_idempotency_key: Generated<string | null>;
  invite_sequence: Generated<number>;
  /** The slot a reschedule under way asks for, and the RescheduleRequested that asked. */
  change_slot_start: Generated<Date | null>;
  /** The end of that slot once its place is reserved: the move waits for the old place's release. */
  change_slot_end: Generated<Date | null>;
  change_event_id: Generated<string | null>;
}

/** Each distinct lower(patient_name) and lower(patient_email) of the bookings (migration 0011). */
export interface SearchTextsTable {
  text: string;
}

export interface BookingServicesTable {
  booking_id: string;
  position: number;
  service_id: string;
  name: string;
  price_paise: number | null;
}

export interface BookingTimelineTable {
  booking_id: string;
  event_id: string;
  type: string;
  occurred_at: Date;
}

export interface ReceiptCountersTable {
  financial_year: string;
  last_number: number;
}

export interface ReceiptsTable {
  booking_id: string;
  number: string;
  financial_year: string;
  sequence: number;
  issued_at: Date;
  /** The IST calendar date of issue, 'YYYY-MM-DD'. */
  issued_on: string;
  amount_paise: number;
  payment_reference: string;
  refunded_paise: number | null;
  refund_reference: string | null;
  refunded_at: Date | null;
}

export interface AppliedSettingsTable {
  id: number;
  version: number;
  /** Set by a trigger whenever the version changes. */
  applied_at: Generated<Date>;
}

export interface PricingSettingsTable extends AppliedSettingsTable {
  discount_basis_points: number;
}

export interface QuotaSettingsTable extends AppliedSettingsTable {
  daily_limit: number;
}

export interface QuotaUsageTable {
  day: string;
  used: number;
}

export interface QuotaReservationsTable {
  booking_id: string;
  day: string | null;
  status: 'reserved' | 'released' | 'skipped' | 'rejected' | 'cancelled';
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface PaymentSettingsTable extends AppliedSettingsTable {
  mode: PaymentMode | null;
  failure_rate: number | null;
}

export interface PaymentsTable {
  booking_id: string;
  status: 'PENDING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'REFUNDED';
  amount_paise: number | null;
  gateway_reference: string | null;
  failure_reason: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface ConfirmationsTable {
  booking_id: string;
  channel: 'email' | 'file' | 'log';
  recipient: string;
  sent_at: UpdatedAt;
  status: Generated<'sending' | 'sent'>;
  attempts: Generated<number>;
  message_id: string | null;
  /** While a sender holds it, no other sends the same message. */
  lease_until: Date | null;
}

/** Emails after the confirmation (a reschedule, a cancellation), each once, delivered as confirmations are. */
export interface NoticesTable {
  booking_id: string;
  kind: 'cancellation' | 'reschedule';
  sequence: number;
  channel: 'email' | 'file' | 'log';
  recipient: string;
  sent_at: UpdatedAt;
  status: Generated<'sending' | 'sent'>;
  attempts: Generated<number>;
  message_id: string | null;
  /** While a sender holds it, no other sends the same message. */
  lease_until: Date | null;
}

export interface GatewayChargesTable {
  idempotency_key: string;
  amount_paise: number;
  status: 'succeeded' | 'declined' | 'cancelled' | 'refunded';
  reference: string;
  decline_reason: string | null;
  refund_reference: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface ScheduleTable {
  id: number;
  slot_minutes: number;
  capacity: number;
  hours: Json<Record<string, { opens: string; closes: string } | null>>;
  closed_dates: Json<string[]>;
  version: number;
  updated_at: UpdatedAt;
  updated_by: string | null;
}

export interface SlotsTable {
  start: Date;
  held: number;
}

export interface HoldsTable {
  booking_id: string;
  slot_start: Date | null;
  status: 'held' | 'released' | 'rejected' | 'skipped' | 'cancelled';
  /** The schedule version and capacity the place was taken under, and the places held after it. */
  schedule_version: number | null;
  capacity: number | null;
  held_after: number | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface AuditEntriesTable {
  id: Generated<number>;
  at: Date;
  type: string;
  actor: string;
  booking_id: string | null;
  correlation_id: string | null;
  event_id: string | null;
  data: Json<unknown>;
}

export interface OutboxTable {
  id: Generated<number>;
  stream: string;
  event_id: string;
  payload: Json<unknown>;
  created_at: CreatedAt;
  published_at: Date | null;
  causation_id: string | null;
  producer: string | null;
}

export interface InboxTable {
  consumer_group: string;
  event_id: string;
  handled_at: CreatedAt;
}

export interface AttemptsTable {
  consumer_group: string;
  event_id: string;
  attempts: number;
  updated_at: UpdatedAt;
}

export interface DeadLettersTable {
  id: Generated<number>;
  stream: string;
  entry_id: string;
  consumer_group: string;
  event_id: string | null;
  type: string | null;
  payload: Json<unknown>;
  error: string;
  deliveries: number;
  created_at: CreatedAt;
  replayed_at: Date | null;
}

export interface Database {
  'identity.users': UsersTable;
  'catalogue.services': ServicesTable;
  'settings.config': SettingsTable;
  'booking.bookings': BookingsTable;
  'booking.booking_services': BookingServicesTable;
  'booking.search_texts': SearchTextsTable;
  'booking.timeline': BookingTimelineTable;
  'booking.receipt_counters': ReceiptCountersTable;
  'booking.receipts': ReceiptsTable;
  'pricing.settings': PricingSettingsTable;
  'quota.settings': QuotaSettingsTable;
  'quota.usage': QuotaUsageTable;
  'quota.reservations': QuotaReservationsTable;
  'payment.settings': PaymentSettingsTable;
  'payment.payments': PaymentsTable;
  'confirmation.confirmations': ConfirmationsTable;
  'confirmation.notices': NoticesTable;
  'scheduling.schedule': ScheduleTable;
  'scheduling.slots': SlotsTable;
  'scheduling.holds': HoldsTable;
  'gateway.charges': GatewayChargesTable;
  'audit.entries': AuditEntriesTable;
  'bus.outbox': OutboxTable;
  'bus.inbox': InboxTable;
  'bus.dead_letters': DeadLettersTable;
  'bus.attempts': AttemptsTable;
}

export type User = Selectable<UsersTable>;
export type Service = Selectable<ServicesTable>;
export type Booking = Selectable<BookingsTable>;
export type NewBooking = Insertable<BookingsTable>;
