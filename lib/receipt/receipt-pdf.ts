import PDFDocument from 'pdfkit';
import type { ReceiptDocument } from './receipt.js';
import { formatLongDate, formatRupeesPlain as rupees } from './receipt-format.js';

const MARGIN = 50;
const PAGE_WIDTH = 595.28; // A4 in points
const CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN;
const AMOUNT_WIDTH = 120;

/** The receipt as an A4 PDF (pdfkit's standard Helvetica, so no font files are needed). */
export async function renderReceiptPdf(receipt: ReceiptDocument): Promise<Buffer> {
  const pdf = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    info: { Title: `${receipt.title} ${receipt.number}`, Author: receipt.clinic.name },
  });
  const chunks: Buffer[] = [];
  pdf.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve, reject) => {
    pdf.on('end', () => resolve(Buffer.concat(chunks)));
    pdf.on('error', reject);
  });

  pdf.font('Helvetica-Bold').fontSize(18).text(receipt.clinic.name);
  pdf.font('Helvetica').fontSize(10).text(receipt.clinic.address);
  if (receipt.clinic.gstin) pdf.text(`GSTIN: ${receipt.clinic.gstin}`);
  pdf.moveDown();
  pdf.font('Helvetica-Bold').fontSize(14).text(receipt.title);
  pdf.font('Helvetica').fontSize(10);
  field(pdf, 'Receipt number', receipt.number);
  field(pdf, 'Date', formatLongDate(receipt.issuedOn));
  field(pdf, 'Booking reference', receipt.bookingReference);
  field(pdf, 'Patient', receipt.patient.name);
  field(pdf, 'Payment reference', receipt.paymentReference);
  pdf.moveDown();

  row(pdf, `Service (SAC ${receipt.sac})`, 'Amount', true);
  for (const line of receipt.services) row(pdf, line.name, rupees(line.pricePaise));
  rule(pdf);
  row(pdf, 'Base price', rupees(receipt.basePaise));
  if (receipt.discountPaise > 0) {
    row(pdf, `Discount (${receipt.discountPercent}%)`, `- ${rupees(receipt.discountPaise)}`);
  }
  row(pdf, 'Total paid', rupees(receipt.amountPaise), true);
  pdf.font('Helvetica').text(receipt.amountInWords, MARGIN, pdf.y, { width: CONTENT_WIDTH });
  if (receipt.refund) {
    pdf.moveDown();
    row(
      pdf,
      `Refunded on ${formatLongDate(receipt.refund.refundedOn)}`,
      rupees(receipt.refund.amountPaise),
      true,
    );
    pdf
      .font('Helvetica')
      .text(`${receipt.refundInWords} (refund reference ${receipt.refund.reference})`, MARGIN, pdf.y, {
        width: CONTENT_WIDTH,
      });
  }
  pdf.moveDown();
  pdf.fontSize(9).fillColor('#333333').text(receipt.exemptionNote, MARGIN, pdf.y, { width: CONTENT_WIDTH });
  pdf.end();
  return done;
}

function field(pdf: PDFKit.PDFDocument, label: string, value: string): void {
  pdf.font('Helvetica-Bold').text(`${label}: `, { continued: true }).font('Helvetica').text(value);
}

function row(pdf: PDFKit.PDFDocument, label: string, amount: string, bold = false): void {
  const y = pdf.y;
  pdf.font(bold ? 'Helvetica-Bold' : 'Helvetica');
  pdf.text(label, MARGIN, y, { width: CONTENT_WIDTH - AMOUNT_WIDTH - 10 });
  const after = pdf.y;
  pdf.text(amount, PAGE_WIDTH - MARGIN - AMOUNT_WIDTH, y, { width: AMOUNT_WIDTH, align: 'right' });
  pdf.y = Math.max(after, pdf.y) + 2;
}

function rule(pdf: PDFKit.PDFDocument): void {
  pdf
    .moveTo(MARGIN, pdf.y)
    .lineTo(PAGE_WIDTH - MARGIN, pdf.y)
    .strokeColor('#999999')
    .stroke();
  pdf.y += 4;
}
