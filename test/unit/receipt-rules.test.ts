import { expect } from 'chai';
import { amountInWords, numberInWords } from '../../lib/receipt/amount-in-words.js';
import { isValidGstin, receiptDocument, type ReceiptRecord } from '../../lib/receipt/receipt.js';
import { financialYear, formatReceiptNumber } from '../../lib/receipt/receipt-number.js';

describe('receipt rules', () => {
  describe('amountInWords (Indian system)', () => {
    const cases: [number, string][] = [
      [0, 'Rupees Zero Only'],
      [1, 'Rupees Zero and One Paisa Only'],
      [99, 'Rupees Zero and Ninety-Nine Paise Only'],
      [100, 'Rupees One Only'],
      [1_00_000, 'Rupees One Thousand Only'],
      [1_00_000_00, 'Rupees One Lakh Only'],
      [
        12_34_56_789,
        'Rupees Twelve Lakh Thirty-Four Thousand Five Hundred Sixty-Seven and Eighty-Nine Paise Only',
      ],
      [
        12_34_56_789_00,
        'Rupees Twelve Crore Thirty-Four Lakh Fifty-Six Thousand Seven Hundred Eighty-Nine Only',
      ],
      [1_23_456_50, 'Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six and Fifty Paise Only'],
      [92_400, 'Rupees Nine Hundred Twenty-Four Only'],
      [1_01_010_10, 'Rupees One Lakh One Thousand Ten and Ten Paise Only'],
    ];
    for (const [paise, words] of cases) {
      it(`${paise} paise → ${words}`, () => {
        expect(amountInWords(paise)).to.equal(words);
      });
    }

    it('writes hundreds of crores with the crore count in words', () => {
      expect(numberInWords(1_234_00_00_000)).to.equal('One Thousand Two Hundred Thirty-Four Crore');
      expect(numberInWords(100_00_00_001)).to.equal('One Hundred Crore One');
    });

    it('hyphenates the tens and leaves round tens alone', () => {
      expect(numberInWords(21)).to.equal('Twenty-One');
      expect(numberInWords(90)).to.equal('Ninety');
      expect(numberInWords(19)).to.equal('Nineteen');
      expect(numberInWords(100_010)).to.equal('One Lakh Ten');
    });

    it('refuses what is not a whole number of paise', () => {
      for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1]) {
        expect(() => amountInWords(bad), String(bad)).to.throw(RangeError);
      }
    });
  });

  describe('financial year and receipt numbers', () => {
    it('runs from 1 April to 31 March', () => {
      expect(financialYear('2026-03-31')).to.equal('2025-26');
      expect(financialYear('2026-04-01')).to.equal('2026-27');
      expect(financialYear('2027-03-31')).to.equal('2026-27');
      expect(financialYear('2026-12-31')).to.equal('2026-27');
      expect(financialYear('2027-01-01')).to.equal('2026-27');
    });

    it('writes the century turn with two digits', () => {
      expect(financialYear('2099-04-01')).to.equal('2099-00');
      expect(financialYear('2100-03-31')).to.equal('2099-00');
    });

    it('formats BOS/<year>/<six digits>', () => {
      expect(formatReceiptNumber('2026-27', 123)).to.equal('BOS/2026-27/000123');
      expect(formatReceiptNumber('2026-27', 1)).to.equal('BOS/2026-27/000001');
      expect(formatReceiptNumber('2026-27', 1_234_567)).to.equal('BOS/2026-27/1234567');
      expect(() => formatReceiptNumber('2026-27', 0)).to.throw(RangeError);
      expect(() => formatReceiptNumber('2026', 1)).to.throw(RangeError);
      expect(() => financialYear('2026-02-30')).to.throw(RangeError);
    });
  });

  describe('GSTIN', () => {
    it('accepts GSTINs with a right check character', () => {
      for (const gstin of ['27AAPFU0939F1ZV', '29AAGCB7383J1Z4', '07AAACR5055K1Z9']) {
        expect(isValidGstin(gstin), gstin).to.equal(true);
      }
    });

    it('refuses a wrong check character, a wrong shape or lower case', () => {
      for (const gstin of ['27AAPFU0939F1ZW', '27AAPFU0939F1Z', '27aapfu0939f1zv', '27AAPFU0939F1YV', '']) {
        expect(isValidGstin(gstin), gstin).to.equal(false);
      }
    });
  });

  describe('receiptDocument', () => {
    const record: ReceiptRecord = {
      bookingId: '00000000-0000-4000-8000-000000000001',
      userId: '00000000-0000-4000-8000-000000000002',
      number: 'BOS/2026-27/000007',
      issuedOn: '2026-12-01',
      bookingReference: 'MC-7K2Q-9XD4',
      patient: { name: 'Asha Verma', phone: '+91 98450 12345', email: 'asha@example.com' },
      services: [
        { name: 'Consultation', pricePaise: 80_000 },
        { name: 'Blood test', pricePaise: 45_000 },
      ],
      basePaise: 125_000,
      discountBasisPoints: 1200,
      discountPaise: 15_000,
      amountPaise: 110_000,
      paymentReference: 'pay_sim_0123456789abcdef',
      refund: null,
    };

    it('is a Bill of Supply with the exemption, SAC 9993, the percent and the total in words', () => {
      const document = receiptDocument(record, { name: 'Clinic', address: 'MG Road', gstin: null });
      expect(document.title).to.equal('Bill of Supply');
      expect(document.sac).to.equal('9993');
      expect(document.exemptionNote).to.contain('exempt from GST').and.to.contain('SAC 9993');
      expect(document.discountPercent).to.equal(12);
      expect(document.amountInWords).to.equal('Rupees One Thousand One Hundred Only');
      expect(document.refundInWords).to.equal(null);
    });

    it('writes the refund in words when there is one', () => {
      const refunded = {
        ...record,
        refund: { amountPaise: 110_000, reference: 'rfnd_1', refundedOn: '2026-12-02' },
      };
      expect(receiptDocument(refunded, { name: 'C', address: 'A', gstin: null }).refundInWords).to.equal(
        'Rupees One Thousand One Hundred Only',
      );
    });
  });
});
