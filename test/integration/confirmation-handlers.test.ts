import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import ical from 'node-ical';
import { SMTPServer } from 'smtp-server';
import { bookingHandlers } from '../../lib/booking/booking-handlers.js';
import { confirmationHandlers } from '../../lib/confirmation/confirmation-handlers.js';
import { inviteUid } from '../../lib/confirmation/invite.js';
import { createMailer } from '../../lib/confirmation/mailer.js';
import { createDb, type Db } from '../../lib/db/database.js';
import type { Event } from '../../lib/events/catalogue.js';
import { isTransient } from '../../lib/transient-errors.js';
import { confirmedBooking } from '../support/confirmed-booking.js';
import { buildPatient, createService } from '../support/factories.js';
import { handle, sagaEvent } from '../support/handlers.js';
import { parseMime, partOf, type MimePart } from '../support/mime.js';
import { pdfToText } from '../support/pdf.js';
import { waitFor } from '../support/wait.js';

interface Received {
  to: string[];
  body: string;
}

/** A real SMTP server on loopback that keeps what it receives. */
async function startSmtp(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let body = '';
      stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), body });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const FROM = 'Sunrise Clinic <no-reply@sunrise.example>';
const clinic = { name: 'Sunrise Clinic', address: '4 Park Street, Kolkata 700016', gstin: null };

describe('confirmation participant', function () {
  this.timeout(20_000);
  let db: Db;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  const bookings = bookingHandlers({ afterMs: 60_000, limit: 1 });

  before(async () => {
    db = createDb(process.env.DATABASE_URL as string, 2);
    smtp = await startSmtp();
  });
  after(async () => {
    await smtp.close();
    await db.destroy();
  });

  /** A booking confirmed by the booking participant (so it has a receipt) and its BookingConfirmed. */
  async function confirmed(email: string): Promise<{ event: Event<'BookingConfirmed'>; bookingId: string }> {
    const service = await createService(db, { name: `Consultation ${randomUUID()}`, pricePaise: 92_400 });
    const booking = await confirmedBooking(db, bookings, {
      services: [service],
      patient: buildPatient({ name: 'Asha Verma', email }),
    });
    const event = {
      ...sagaEvent(
        'BookingConfirmed',
        { reference: booking.reference, finalPaise: 92_400, patient: { name: 'Asha Verma', email } },
        booking.id,
      ),
      correlationId: booking.correlationId,
    };
    return { event, bookingId: booking.id };
  }

  async function expectFullConfirmation(message: MimePart, bookingId: string) {
    const receipt = await db
      .selectFrom('booking.receipts')
      .select('number')
      .where('booking_id', '=', bookingId)
      .executeTakeFirstOrThrow();
    const text = partOf(message, 'text/plain')?.body.toString() ?? '';
    expect(text).to.contain('is confirmed').and.to.contain('₹924.00').and.to.contain(receipt.number);
    expect(text).to.contain('Rupees Nine Hundred Twenty-Four Only');
    const html = partOf(message, 'text/html')?.body.toString() ?? '';
    expect(html).to.contain('Asha Verma').and.to.contain(receipt.number);

    const calendar = partOf(message, 'text/calendar');
    expect(calendar?.contentType).to.match(/method=REQUEST/i);
    const parsed = ical.sync.parseICS(calendar?.body.toString() ?? '');
    const event = Object.values(parsed).find((c): c is ical.VEvent => c.type === 'VEVENT');
    expect(event?.uid).to.equal(inviteUid(bookingId));
    expect(String(event?.sequence)).to.equal('0');
    expect(event?.location).to.equal('Sunrise Clinic, 4 Park Street, Kolkata 700016');

    const pdf = partOf(message, 'application/pdf');
    expect(pdf?.headers['content-disposition']).to.match(/attachment; filename=.*receipt-BOS-/);
    const pdfText = await pdfToText(pdf?.body ?? Buffer.alloc(0));
    expect(pdfText).to.contain(receipt.number).and.to.contain('Rs. 924.00');
  }

  it('emails the patient over SMTP once: text, HTML, the invite and the receipt PDF', async () => {
    const mail = createMailer(smtp.url, FROM, tmpdir());
    const handlers = confirmationHandlers({ ...mail, clinic, from: FROM });
    const email = `asha-${randomUUID().slice(0, 6)}@example.com`;
    const { event, bookingId } = await confirmed(email);
    await handle(db, handlers, event);
    await handle(db, handlers, { ...event, eventId: randomUUID() }); // a second delivery under another event id
    mail.close();

    const mine = smtp.received.filter((message) => message.to.includes(email));
    expect(mine).to.have.length(1);
    await expectFullConfirmation(parseMime(mine[0]?.body ?? ''), bookingId);
    const rows = await db
      .selectFrom('confirmation.confirmations')
      .selectAll()
      .where('booking_id', '=', bookingId)
      .execute();
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ channel: 'email', recipient: email });
  });

  it('without SMTP_URL writes the same message as an .eml file to the mail folder', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'clinic-mail-test-'));
    try {
      const mail = createMailer(undefined, FROM, path.join(folder, 'outbox'));
      expect(mail.channel).to.equal('file');
      const handlers = confirmationHandlers({ ...mail, clinic, from: FROM });
      const email = `ravi-${randomUUID().slice(0, 6)}@example.com`;
      const { event, bookingId } = await confirmed(email);
      await handle(db, handlers, event);
      mail.close();

      const files = await readdir(path.join(folder, 'outbox'));
      expect(files).to.have.length(1);
      expect(files[0]).to.match(/\.eml$/);
      const message = parseMime(await readFile(path.join(folder, 'outbox', files[0] as string)));
      expect(message.headers.to).to.equal(email);
      expect(message.headers.subject).to.equal(`Booking ${event.data.reference} confirmed`);
      await expectFullConfirmation(message, bookingId);
      const row = await db
        .selectFrom('confirmation.confirmations')
        .selectAll()
        .where('booking_id', '=', bookingId)
        .executeTakeFirstOrThrow();
      expect(row.channel).to.equal('file');
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('without SMTP_URL makes the mail folder again when it was removed while running', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'clinic-mail-test-'));
    const outbox = path.join(folder, 'outbox');
    const mail = createMailer(undefined, FROM, outbox);
    const message = (n: number) => ({
      messageId: `<m${n}@clinic.example>`,
      to: 'a@example.com',
      subject: `n${n}`,
      text: 'x',
    });
    try {
      await mail.mailer.send(message(1));
      await rm(outbox, { recursive: true });
      await mail.mailer.send(message(2));
      const files = await readdir(outbox);
      expect(files).to.have.length(1);
      expect(files[0]).to.contain('m2_clinic.example');
    } finally {
      mail.close();
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('a mail server that is down fails transiently; once it is back the message goes out once', async () => {
    const down = createMailer('smtp://127.0.0.1:1', FROM, tmpdir());
    const up = createMailer(smtp.url, FROM, tmpdir());
    let mailer = down.mailer;
    const handlers = confirmationHandlers({
      channel: 'email',
      mailer: { send: (message) => mailer.send(message) },
      clinic,
      from: FROM,
    });
    const email = `ravi-${randomUUID().slice(0, 6)}@example.com`;
    const { event, bookingId } = await confirmed(email);
    const failure = await handle(db, handlers, event).then(
      () => null,
      (error: unknown) => error,
    );
    expect(isTransient(failure), String(failure)).to.equal(true);
    const row = () =>
      db.selectFrom('confirmation.confirmations').selectAll().where('booking_id', '=', bookingId).execute();
    expect((await row()).map((r) => r.status)).to.deep.equal(['sending']);

    mailer = up.mailer;
    await handle(db, handlers, event);
    await handle(db, handlers, event); // redelivered after the commit: nothing sent again
    up.close();
    const mine = smtp.received.filter((message) => message.to.includes(email));
    expect(mine).to.have.length(1);
    expect(mine[0]?.body).to.contain(`confirmation-${bookingId}@clinic.example`);
    expect((await row()).map((r) => r.status)).to.deep.equal(['sent']);
  });

  it('two deliveries at once send once: the other waits on the lease, then finds it sent', async () => {
    const sent: string[] = [];
    let release = () => {};
    const sending = new Promise<void>((resolve) => (release = resolve));
    const handlers = confirmationHandlers({
      channel: 'email',
      mailer: {
        send: async (message) => {
          sent.push(message.to);
          await sending;
        },
      },
      clinic,
      from: FROM,
    });
    const email = `meera-${randomUUID().slice(0, 6)}@example.com`;
    const { event } = await confirmed(email);
    const first = handle(db, handlers, event);
    await waitFor(async () => sent.length === 1);
    const second = await handle(db, handlers, { ...event, eventId: randomUUID() }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(isTransient(second), String(second)).to.equal(true);
    release();
    await first;
    expect(await handle(db, handlers, { ...event, eventId: randomUUID() })).to.deep.equal([]);
    expect(sent).to.deep.equal([email]);
  });
});
