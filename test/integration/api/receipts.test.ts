import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Response } from 'supertest';
import { bookingHandlers } from '../../../lib/booking/booking-handlers.js';
import { startTestApp, type TestApp } from '../../support/app.js';
import { confirmedBooking, pricedBooking, type PaidBooking } from '../../support/confirmed-booking.js';
import { buildPatient, createService, loggedInAdmin, signedUpPatient } from '../../support/factories.js';
import { handle, sagaEvent } from '../../support/handlers.js';
import type { Client } from '../../support/http.js';
import { pdfToText } from '../../support/pdf.js';

const binary = (res: Response, callback: (error: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => callback(null, Buffer.concat(chunks)));
};

describe('receipts: the Bill of Supply page and PDF', function () {
  this.timeout(30_000);
  let testApp: TestApp;
  let owner: Client;
  let booking: PaidBooking;
  let number: string;
  const handlers = bookingHandlers({ afterMs: 60_000, limit: 1 });

  before(async () => {
    testApp = await startTestApp({
      env: {
        CLINIC_NAME: 'Sunrise Clinic',
        CLINIC_ADDRESS: '4 Park Street, Kolkata 700016',
        CLINIC_GSTIN: '19AAGCB7383J1Z5',
      },
    });
    const patient = await signedUpPatient(testApp.app);
    owner = patient.client;
    const consultation = await createService(testApp.db, {
      name: `Consultation ${randomUUID()}`,
      pricePaise: 80_000,
    });
    const bloodTest = await createService(testApp.db, {
      name: `Blood test ${randomUUID()}`,
      pricePaise: 45_050,
    });
    booking = await confirmedBooking(testApp.db, handlers, {
      userId: patient.user.id,
      services: [consultation, bloodTest],
      patient: buildPatient({ name: 'Asha <Verma>' }),
      discountBasisPoints: 1200,
    });
    const receipt = await testApp.db
      .selectFrom('booking.receipts')
      .select('number')
      .where('booking_id', '=', booking.id)
      .executeTakeFirstOrThrow();
    number = receipt.number;
  });
  after(async () => {
    await testApp?.close();
  });

  it('shows the owner a printable Bill of Supply with every part the law asks for', async () => {
    const res = await owner.get(`/bookings/${booking.id}/receipt`).expect(200);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(number).to.match(/^BOS\/\d{4}-\d{2}\/\d{6}$/);
    const html = res.text;
    for (const part of [
      'Bill of Supply',
      'Sunrise Clinic',
      '4 Park Street, Kolkata 700016',
      'GSTIN: 19AAGCB7383J1Z5',
      number,
      booking.reference,
      booking.gatewayReference,
      '9993',
      '₹800.00',
      '₹450.50',
      '₹1,250.50',
      'Discount (12%)',
      '₹150.06',
      '₹1,100.44',
      'Rupees One Thousand One Hundred and Forty-Four Paise Only',
      'exempt from GST',
    ]) {
      expect(html, part).to.contain(part);
    }
    expect(html).to.contain('Asha &lt;Verma&gt;').and.not.to.contain('Asha <Verma>');
    expect(html).not.to.contain('Refund');
  });

  it('serves the same receipt as a PDF whose text holds the number and the total', async () => {
    const res = await owner.get(`/bookings/${booking.id}/receipt.pdf`).buffer(true).parse(binary).expect(200);
    expect(res.headers['content-type']).to.equal('application/pdf');
    expect(res.headers['cache-control']).to.equal('no-store');
    const text = await pdfToText(res.body as Buffer);
    expect(text).to.contain('Bill of Supply');
    expect(text).to.contain(number);
    expect(text).to.contain('Rs. 1,100.44');
    expect(text).to.contain('Sunrise Clinic');
    expect(text).to.contain('Rupees One Thousand One Hundred and Forty-Four Paise Only');
    expect(text).to.contain('SAC 9993');
  });

  it('lets an admin see any receipt', async () => {
    const { client: admin } = await loggedInAdmin(testApp.app, testApp.db);
    const res = await admin.get(`/bookings/${booking.id}/receipt`).expect(200);
    expect(res.text).to.contain(number);
    await admin.get(`/bookings/${booking.id}/receipt.pdf`).expect(200);
  });

  it('answers another patient 404, as for a booking that does not exist', async () => {
    const { client: other } = await signedUpPatient(testApp.app);
    for (const path of [`/bookings/${booking.id}/receipt`, `/bookings/${booking.id}/receipt.pdf`]) {
      const res = await other.get(path).set('Accept', 'text/html').expect(404);
      expect(res.text).not.to.contain(number);
    }
    await other.get(`/bookings/${randomUUID()}/receipt`).expect(404);
  });

  it('sends an anonymous visitor to log in, and back afterwards', async () => {
    const { default: supertest } = await import('supertest');
    const res = await supertest(testApp.app).get(`/bookings/${booking.id}/receipt`).expect(302);
    expect(res.headers.location).to.equal(
      `/login?next=${encodeURIComponent(`/bookings/${booking.id}/receipt`)}`,
    );
  });

  it('answers 404 for a malformed id and for a booking not confirmed (no receipt)', async () => {
    // ('%00' is refused before any route, with 400: see the hostile-input tests.)
    for (const id of ['not-a-uuid', `${booking.id}x`, "1'or'1"]) {
      await owner.get(`/bookings/${id}/receipt`).expect(404);
      await owner.get(`/bookings/${id}/receipt.pdf`).expect(404);
    }
    const service = await createService(testApp.db);
    const me = (await owner.get('/api/me').expect(200)).body.user as { id: string };
    const pending = await pricedBooking(testApp.db, handlers, { userId: me.id, services: [service] });
    await owner.get(`/bookings/${pending.id}/receipt`).expect(404);
  });

  it('shows the refund on the receipt of a booking refunded later', async () => {
    const service = await createService(testApp.db, { pricePaise: 60_000 });
    const me = (await owner.get('/api/me').expect(200)).body.user as { id: string };
    const refunded = await confirmedBooking(testApp.db, handlers, { userId: me.id, services: [service] });
    await handle(testApp.db, handlers, {
      ...sagaEvent(
        'PaymentRefunded',
        {
          amountPaise: 60_000,
          gatewayReference: 'rfnd_sim_0011223344556677',
          reason: 'Cancelled by the patient',
        },
        refunded.id,
      ),
      correlationId: refunded.correlationId,
    });
    const res = await owner.get(`/bookings/${refunded.id}/receipt`).expect(200);
    expect(res.text).to.contain('Refund').and.to.contain('rfnd_sim_0011223344556677');
    expect(res.text).to.contain('Rupees Six Hundred Only');
    const pdf = await owner
      .get(`/bookings/${refunded.id}/receipt.pdf`)
      .buffer(true)
      .parse(binary)
      .expect(200);
    expect(await pdfToText(pdf.body as Buffer))
      .to.contain('Refunded on')
      .and.to.contain('rfnd_sim_0011223344556677');
  });
});
