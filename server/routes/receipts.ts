import { Router, type Request } from 'express';
import { z } from 'zod';
import type { Db } from '../../lib/db/database.js';
import { NotFoundError } from '../../lib/errors.js';
import { receiptDocument, type Clinic, type ReceiptDocument } from '../../lib/receipt/receipt.js';
import { formatLongDate } from '../../lib/receipt/receipt-format.js';
import { renderReceiptPdf } from '../../lib/receipt/receipt-pdf.js';
import { findReceipt } from '../../lib/receipt/receipt-repository.js';
import { currentUser, requireLoginPage } from '../auth/guards.js';

const bookingId = z.uuid();

/** The Bill of Supply of a confirmed booking, as a printable page and as a PDF: its patient and admins only. */
export function receiptPages(deps: { db: Db; clinic: Clinic }): Router {
  const router = Router();

  const receiptFor = async (req: Request): Promise<ReceiptDocument> => {
    const user = currentUser(req);
    const id = bookingId.safeParse(req.params.id);
    const receipt = id.success ? await findReceipt(deps.db, id.data) : null;
    // Another patient's receipt is indistinguishable from a missing one.
    if (!receipt || (receipt.userId !== user.id && user.role !== 'admin')) {
      throw new NotFoundError('There is no receipt for this booking.');
    }
    return receiptDocument(receipt, deps.clinic);
  };

  router.get('/bookings/:id/receipt', requireLoginPage, async (req, res) => {
    const receipt = await receiptFor(req);
    res.set('Cache-Control', 'no-store').render('pages/receipt', {
      title: `Receipt ${receipt.number}`,
      receipt,
      formatLongDate,
      styles: ['/css/receipt.css'],
      scripts: ['/js/receipt.js'],
    });
  });

  router.get('/bookings/:id/receipt.pdf', requireLoginPage, async (req, res) => {
    const receipt = await receiptFor(req);
    const pdf = await renderReceiptPdf(receipt);
    res
      .set({
        'Cache-Control': 'no-store',
        'Content-Type': 'application/pdf',
        'Content-Disposition': `inline; filename="receipt-${receipt.number.replaceAll('/', '-')}.pdf"`,
      })
      .send(pdf);
  });

  return router;
}
