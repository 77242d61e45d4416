import { expect } from 'chai';
import {
  generateReference,
  isReference,
  normalizeReference,
  REFERENCE_ALPHABET,
} from '../../lib/booking/reference.js';

/** Packs eight 5-bit values into the five bytes generateReference reads, most significant bits first. */
function bytesFor(values: number[]): Uint8Array {
  let bits = 0n;
  for (const value of values) bits = (bits << 5n) | BigInt(value);
  const bytes = new Uint8Array(5);
  for (let i = 4; i >= 0; i--) {
    bytes[i] = Number(bits & 0xffn);
    bits >>= 8n;
  }
  return bytes;
}

function stub(bytes: Uint8Array): (n: number) => Uint8Array {
  return (n) => {
    expect(n).to.equal(5);
    return bytes;
  };
}

describe('booking reference', () => {
  it('uses the Crockford base32 alphabet', () => {
    expect(REFERENCE_ALPHABET).to.equal('0123456789ABCDEFGHJKMNPQRSTVWXYZ');
  });

  it('maps the random bytes deterministically, 5 bits per character', () => {
    expect(generateReference(stub(new Uint8Array([0, 0, 0, 0, 0])))).to.equal('MC-0000-0000');
    expect(generateReference(stub(new Uint8Array([255, 255, 255, 255, 255])))).to.equal('MC-ZZZZ-ZZZZ');
    expect(generateReference(stub(new Uint8Array([0x00, 0x44, 0x32, 0x14, 0xc7])))).to.equal('MC-0123-4567');
    expect(generateReference(stub(bytesFor([8, 9, 10, 11, 12, 13, 14, 15])))).to.equal('MC-89AB-CDEF');
    expect(generateReference(stub(bytesFor([16, 17, 18, 19, 20, 21, 22, 23])))).to.equal('MC-GHJK-MNPQ');
    expect(generateReference(stub(bytesFor([24, 25, 26, 27, 28, 29, 30, 31])))).to.equal('MC-RSTV-WXYZ');
    expect(generateReference(stub(bytesFor([7, 20, 2, 23, 9, 29, 12, 4])))).to.equal('MC-7M2Q-9XC4');
  });

  it('refuses a randomness source that returns too few bytes', () => {
    expect(() => generateReference(() => new Uint8Array(4))).to.throw(RangeError);
  });

  it('produces well-formed references from real randomness', () => {
    for (let i = 0; i < 200; i++) {
      const reference = generateReference();
      expect(reference).to.match(/^MC-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
      expect(reference.slice(3)).not.to.match(/[ILOU]/);
      expect(isReference(reference), reference).to.equal(true);
    }
  });

  it('does not repeat over a few thousand draws', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) seen.add(generateReference());
    expect(seen.size).to.equal(3000);
  });

  it('uses every character of the alphabet in every position', () => {
    const perPosition = Array.from({ length: 8 }, () => new Set<string>());
    for (let i = 0; i < 3000; i++) {
      const body = generateReference().replace(/-/g, '').slice(2);
      [...body].forEach((ch, position) => perPosition[position]?.add(ch));
    }
    for (const chars of perPosition) expect(chars.size).to.equal(32);
  });

  describe('isReference', () => {
    it('accepts the canonical form', () => {
      expect(isReference('MC-7K2Q-9XD4')).to.equal(true);
      expect(isReference('MC-0000-ZZZZ')).to.equal(true);
    });

    it('rejects other shapes and excluded letters', () => {
      for (const s of [
        'mc-7k2q-9xd4',
        'MC-7K2Q9XD4',
        'MC-7K2Q-9XD',
        'MC-7K2Q-9XD45',
        'XX-7K2Q-9XD4',
        'MC-7K2I-9XD4',
        'MC-7K2L-9XD4',
        'MC-7K2O-9XD4',
        'MC-7K2U-9XD4',
        ' MC-7K2Q-9XD4',
        'MC-7K2Q-9XD4\n',
        '',
      ]) {
        expect(isReference(s), JSON.stringify(s)).to.equal(false);
      }
      expect(isReference(42)).to.equal(false);
      expect(isReference(null)).to.equal(false);
    });
  });

  describe('normalizeReference', () => {
    it('accepts what a person types and returns the canonical form', () => {
      expect(normalizeReference('MC-7K2Q-9XD4')).to.equal('MC-7K2Q-9XD4');
      expect(normalizeReference(' mc-7k2q-9xd4 ')).to.equal('MC-7K2Q-9XD4');
      expect(normalizeReference('mc 7k2q 9xd4')).to.equal('MC-7K2Q-9XD4');
      expect(normalizeReference('MC7K2Q9XD4')).to.equal('MC-7K2Q-9XD4');
      expect(normalizeReference('MC-OI2L-9XD4')).to.equal('MC-0121-9XD4');
    });

    it('returns null for what cannot be a reference', () => {
      expect(normalizeReference('MC-7K2Q-9XD')).to.equal(null);
      expect(normalizeReference('AB-7K2Q-9XD4')).to.equal(null);
      expect(normalizeReference('MC-7K2U-9XD4')).to.equal(null);
      expect(normalizeReference('')).to.equal(null);
    });
  });
});
