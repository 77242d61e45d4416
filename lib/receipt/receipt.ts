import { amountInWords } from './amount-in-words.js';

/** Who issues the receipt: from the environment (CLINIC_NAME, CLINIC_ADDRESS, CLINIC_GSTIN). */
export interface Clinic {
  name: string;
  address: string;
  gstin: string | null;
}

/** What a confirmed booking's receipt is made of, as the booking participant recorded it. */
export interface ReceiptRecord {
  bookingId: string;
  userId: string;
  number: string;
  issuedOn: string;
  bookingReference: string;
  patient: { name: string; phone: string; email: string };
  services: { name: string; pricePaise: number }[];
  basePaise: number;
  discountBasisPoints: number;
  discountPaise: number;
  amountPaise: number;
  paymentReference: string;
  refund: { amountPaise: number; reference: string; refundedOn: string } | null;
}

/** Healthcare services are exempt supplies: a Bill of Supply, not a tax invoice, and no GST charged. */
export const SAC_HEALTHCARE = '9993';
export const EXEMPTION_NOTE =
  'Health care services by a clinical establishment (SAC 9993) are exempt from GST ' +
  '(Notification No. 12/2017-Central Tax (Rate), entry 74). No GST is charged on this bill.';

export interface ReceiptDocument extends ReceiptRecord {
  title: 'Bill of Supply';
  clinic: Clinic;
  sac: string;
  exemptionNote: string;
  discountPercent: number;
  amountInWords: string;
  refundInWords: string | null;
}

/** The receipt as both the printable page and the PDF show it. */
export function receiptDocument(record: ReceiptRecord, clinic: Clinic): ReceiptDocument {
  return {
    ...record,
    title: 'Bill of Supply',
    clinic,
    sac: SAC_HEALTHCARE,
    exemptionNote: EXEMPTION_NOTE,
    discountPercent: record.discountBasisPoints / 100,
    amountInWords: amountInWords(record.amountPaise),
    refundInWords: record.refund ? amountInWords(record.refund.amountPaise) : null,
  };
}

const GSTIN_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * A GSTIN: state code, PAN, entity number, 'Z', and a check character (base-36 weighted sum,
 * as the GST network computes it), so a typo in the configuration is caught at start.
 */
export function isValidGstin(gstin: string): boolean {
  if (!/^\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]$/.test(gstin)) return false;
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    const product = GSTIN_ALPHABET.indexOf(gstin[i] as string) * (i % 2 === 0 ? 1 : 2);
    sum += Math.floor(product / 36) + (product % 36);
  }
  return gstin[14] === GSTIN_ALPHABET[(36 - (sum % 36)) % 36];
}
