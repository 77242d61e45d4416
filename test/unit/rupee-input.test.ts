import { expect } from 'chai';
import { parseRupeesToPaise } from '../../lib/money.js';

describe('rupees typed by an admin', function () {
  const valid: [string, number][] = [
    ['1234.50', 123_450],
    ['1,234.50', 123_450],
    ['₹1,234.5', 123_450],
    ['1,23,456.78', 12_345_678],
    ['123,456', 12_345_600],
    ['0', 0],
    ['0.01', 1],
    ['  99  ', 9_900],
    ['1000.10', 100_010],
  ];
  for (const [text, paise] of valid) {
    it(`reads "${text}" as ${paise} paise`, () => {
      expect(parseRupeesToPaise(text)).to.equal(paise);
    });
  }

  const invalid = [
    '',
    '-5',
    '12.345',
    '1,2,3',
    '12,34',
    '1e3',
    '0x10',
    '12.',
    '.5',
    'abc',
    '1 000',
    '1234.5\0',
    'NaN',
  ];
  for (const text of invalid) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      expect(parseRupeesToPaise(text)).to.equal(null);
    });
  }
});
