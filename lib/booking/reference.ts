import { randomBytes as cryptoRandomBytes } from 'node:crypto';

/** Crockford base32: no I, L, O or U, so a reference read aloud or handwritten stays unambiguous. */
export const REFERENCE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

const REFERENCE_PATTERN = /^MC-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/;
const CHARS = 8;
const BYTES = (CHARS * 5) / 8; // 40 random bits, 5 per character

/** 'MC-XXXX-XXXX' from 40 random bits; 5 bits per character, so no modulo bias. */
export function generateReference(randomBytes: (n: number) => Uint8Array = cryptoRandomBytes): string {
  const bytes = randomBytes(BYTES);
  if (bytes.length < BYTES) throw new RangeError(`randomBytes returned ${bytes.length} bytes, need ${BYTES}`);
  let chars = '';
  let buffer = 0;
  let bufferedBits = 0;
  for (let i = 0; i < BYTES; i++) {
    buffer = ((buffer << 8) | (bytes[i] ?? 0)) & 0xfff; // at most 12 bits are ever held
    bufferedBits += 8;
    while (bufferedBits >= 5) {
      bufferedBits -= 5;
      chars += REFERENCE_ALPHABET[(buffer >> bufferedBits) & 0x1f];
    }
  }
  return `MC-${chars.slice(0, 4)}-${chars.slice(4)}`;
}

export function isReference(s: unknown): s is string {
  return typeof s === 'string' && REFERENCE_PATTERN.test(s);
}

/**
 * A reference as a person typed it (any case, spaces, Crockford's O→0 and I/L→1) in canonical
 * form, or null when it cannot be one.
 */
export function normalizeReference(s: string): string | null {
  const compact = s.trim().toUpperCase().replace(/[\s-]/g, '');
  if (!compact.startsWith('MC') || compact.length !== 2 + CHARS) return null;
  const body = compact.slice(2).replace(/O/g, '0').replace(/[IL]/g, '1');
  const candidate = `MC-${body.slice(0, 4)}-${body.slice(4)}`;
  return isReference(candidate) ? candidate : null;
}
