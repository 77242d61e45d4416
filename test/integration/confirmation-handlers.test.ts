import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { SMTPServer } from 'smtp-server';
import { confirmationHandlers, createMailer } from '../../lib/confirmation/confirmation-handlers.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { handle, sagaEvent } from '../support/handlers.js';

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

describe('confirmation participant', () => {
  let db: Db;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;

  before(async () => {
    db = createDb(process.env.DATABASE_URL as string, 2);
    smtp = await startSmtp();
  });
  after(async () => {
    await smtp.close();
    await db.destroy();
  });

  const confirmed = (bookingId: string, email: string) =>
    sagaEvent(
      'BookingConfirmed',
      { reference: 'MC-7K2Q-9XD4', finalPaise: 92_400, patient: { name: 'Asha Verma', email } },
      bookingId,
    );

  it('emails the patient over SMTP once per confirmed booking', async () => {
    const mail = createMailer(smtp.url, 'Clinic <no-reply@clinic.example>');
    const handlers = confirmationHandlers(mail);
    const bookingId = randomUUID();
    const email = `asha-${randomUUID().slice(0, 6)}@example.com`;
    await handle(db, handlers, confirmed(bookingId, email));
    await handle(db, handlers, confirmed(bookingId, email)); // a second delivery under another event id
    mail.close();

    const mine = smtp.received.filter((message) => message.to.includes(email));
    expect(mine).to.have.length(1);
    expect(mine[0]?.body).to.contain('MC-7K2Q-9XD4').and.to.contain('924.00');
    const rows = await db
      .selectFrom('confirmation.confirmations')
      .selectAll()
      .where('booking_id', '=', bookingId)
      .execute();
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ channel: 'email', recipient: email });
  });

  it('rolls back when the mail server refuses, so the event is retried', async () => {
    const handlers = confirmationHandlers(
      createMailer('smtp://127.0.0.1:1', 'Clinic <no-reply@clinic.example>'),
    );
    const bookingId = randomUUID();
    let failed = false;
    await handle(db, handlers, confirmed(bookingId, 'nobody@example.com')).catch(() => (failed = true));
    expect(failed).to.equal(true);
    const rows = await db
      .selectFrom('confirmation.confirmations')
      .selectAll()
      .where('booking_id', '=', bookingId)
      .execute();
    expect(rows).to.have.length(0);
  });
});
