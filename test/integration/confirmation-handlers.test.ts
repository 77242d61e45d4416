import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { SMTPServer } from 'smtp-server';
import { confirmationHandlers, createMailer } from '../../lib/confirmation/confirmation-handlers.js';
import { createDb, type Db } from '../../lib/db/database.js';
import { isTransient } from '../../lib/transient-errors.js';
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

  it('a mail server that is down fails transiently; once it is back the message goes out once', async () => {
    const down = createMailer('smtp://127.0.0.1:1', 'Clinic <no-reply@clinic.example>');
    const up = createMailer(smtp.url, 'Clinic <no-reply@clinic.example>');
    let mailer = down.mailer;
    const handlers = confirmationHandlers({
      channel: 'email',
      mailer: { send: (message) => mailer.send(message) },
    });
    const bookingId = randomUUID();
    const email = `ravi-${randomUUID().slice(0, 6)}@example.com`;
    const event = confirmed(bookingId, email);
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
});
