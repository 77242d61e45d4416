import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import supertest from 'supertest';
import winston from 'winston';
import { findAuditEntries } from '../../../lib/audit/audit-queries.js';
import { logger, personalDataNeeded } from '../../../lib/logger.js';
import type { TestApp } from '../../support/app.js';
import { expectError, startApiApp, trackWrites } from '../../support/api-helpers.js';
import { buildUser, loggedInAdmin } from '../../support/factories.js';
import { Client } from '../../support/http.js';
import { waitFor } from '../../support/wait.js';

describe('security: the audit trail, /metrics and what leaves the system', function () {
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;

  before(async () => {
    testApp = await startApiApp();
    cleanUp = await trackWrites(testApp.db);
  });
  after(async () => {
    await cleanUp?.();
    await testApp?.close();
  });

  const entries = (type: string, actor: string) => findAuditEntries(testApp.db, { type, actor });

  describe('security events in the audit trail, with actor and address', function () {
    it('records sign-up, login success and failure, and logout', async () => {
      const input = buildUser();
      const client = new Client(testApp.app);
      await client.signup(input);
      expectError(
        await new Client(testApp.app).post('/api/auth/login', { ...input, password: 'wrong one' }),
        401,
      );
      await client.login(input);
      await client.post('/api/auth/logout');

      for (const type of ['SignedUp', 'LoginFailed', 'LoginSucceeded', 'LoggedOut']) {
        const [entry, ...more] = await entries(type, input.email);
        expect(entry, type).to.not.equal(undefined);
        expect(more, type).to.deep.equal([]);
        expect((entry!.data as { address: string }).address, type).to.match(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
      }
      const [failed] = await entries('LoginFailed', input.email);
      expect(JSON.stringify(failed)).not.to.include('wrong one');
    });

    it('records every change an admin makes, with the route and the answer', async () => {
      const { client, user } = await loggedInAdmin(testApp.app, testApp.db);
      const res = await client.put('/api/admin/config', { dailyDiscountQuota: 42 });
      expect(res.status, res.text).to.equal(200);
      expectError(await client.put('/api/admin/config', { dailyDiscountQuota: -1 }), 400);
      await client.get('/api/admin/config').expect(200);

      const recorded = await waitFor(async () => {
        const found = await entries('AdminAction', user.email);
        return found.length === 2 && found;
      });
      expect(recorded.map((entry) => entry.data).reverse()).to.deep.equal([
        {
          address: (recorded[0]!.data as { address: string }).address,
          method: 'PUT',
          path: '/api/admin/config',
          status: 200,
        },
        {
          address: (recorded[0]!.data as { address: string }).address,
          method: 'PUT',
          path: '/api/admin/config',
          status: 400,
        },
      ]);
    });

    it('records a dead-letter replay once: the request with its address, the replay with its letter', async () => {
      const { client, user } = await loggedInAdmin(testApp.app, testApp.db);
      const letter = await testApp.db
        .insertInto('bus.dead_letters')
        .values({
          stream: 'config',
          entry_id: `${Date.now()}-0`,
          consumer_group: 'security-test',
          event_id: randomUUID(),
          type: 'ConfigChanged',
          payload: JSON.stringify({ type: 'ConfigChanged' }),
          error: 'failed in a test',
          deliveries: 5,
        })
        .returning('id')
        .executeTakeFirstOrThrow();

      const res = await client.post(`/api/admin/dead-letters/${letter.id}/replay`);
      expect(res.status, res.text).to.equal(202);

      const path = `/api/admin/dead-letters/${letter.id}/replay`;
      const [request] = await waitFor(async () => {
        const found = (await entries('AdminAction', user.email)).filter(
          (entry) => (entry.data as { path: string }).path === path,
        );
        return found.length > 0 && found;
      });
      expect(request!.data).to.deep.include({ method: 'POST', path, status: 202 });
      expect(request!.data).to.have.property('address').that.is.a('string');
      const replays = await entries('DeadLetterReplayed', user.email);
      expect(replays).to.have.length(1);
      expect(replays[0]!.data).to.deep.include({ deadLetterId: letter.id, group: 'security-test' });
    });
  });

  describe('no-store on answers with personal data', function () {
    it('every page and API answer says no-store; static files may be cached', async () => {
      const { client } = await loggedInAdmin(testApp.app, testApp.db);
      for (const path of [
        '/',
        '/login',
        '/signup',
        '/api/me',
        '/api/services',
        '/api/admin/bookings',
        '/api/nothing',
      ]) {
        const res = await client.get(path);
        expect(res.headers['cache-control'], path).to.equal('no-store');
      }
      const css = await supertest(testApp.app).get('/css/site.css').expect(200);
      expect(css.headers['cache-control']).not.to.equal('no-store');
    });
  });

  describe('/metrics', function () {
    let token: string;
    before(() => {
      token = process.env.METRICS_TOKEN!;
    });

    it('answers 401 without the bearer token or with a wrong one', async () => {
      for (const header of [undefined, 'Bearer wrong-token', `Basic ${token}`, `Bearer ${token}x`]) {
        let request = supertest(testApp.app).get('/metrics');
        if (header) request = request.set('Authorization', header);
        const res = await request;
        expectError(res, 401, 'unauthorized');
        expect(res.headers['www-authenticate']).to.match(/^Bearer/);
        expect(res.text).not.to.include('clinic_');
      }
      const ok = await supertest(testApp.app)
        .get('/metrics')
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      expect(ok.text).to.include('clinic_bookings');
    });

    it('is off (404) when no METRICS_TOKEN is set', async () => {
      const off = await startApiApp({ env: { METRICS_TOKEN: '' } });
      try {
        expectError(
          await supertest(off.app).get('/metrics').set('Authorization', 'Bearer '),
          404,
          'not_found',
        );
      } finally {
        await off.close();
      }
    });

    it('serves cached figures within METRICS_CACHE_MS, so scrapes cost no queries', async () => {
      const cached = await startApiApp({ env: { METRICS_CACHE_MS: '600000' } });
      const deadLetters = (text: string) => Number(/^clinic_dead_letters (\d+)$/m.exec(text)?.[1]);
      const scrape = async (app: TestApp) =>
        (await supertest(app.app).get('/metrics').set('Authorization', `Bearer ${token}`).expect(200)).text;
      try {
        const first = deadLetters(await scrape(cached));
        await testApp.db
          .insertInto('bus.dead_letters')
          .values({
            stream: 'config',
            entry_id: `${Date.now()}-1`,
            consumer_group: 'security-metrics-test',
            event_id: null,
            type: null,
            payload: JSON.stringify({}),
            error: 'a test',
            deliveries: 1,
          })
          .execute();
        const storm = await Promise.all(Array.from({ length: 20 }, () => scrape(cached)));
        expect(storm.map(deadLetters)).to.deep.equal(Array(20).fill(first));
        // The uncached app sees the new row: the figure did change.
        expect(deadLetters(await scrape(testApp))).to.equal(first + 1);
      } finally {
        await cached.close();
      }
    });
  });

  describe('log lines', function () {
    // The lines exactly as they are written to stdout.
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const capture = new winston.transports.Stream({ stream: sink });
    before(() => {
      logger.add(capture);
    });
    after(() => {
      logger.remove(capture);
    });

    it('carry no email, phone, date of birth or message body, however deep', () => {
      const level = logger.level;
      const stdout = logger.transports.filter((transport) => transport !== capture);
      logger.level = 'info';
      for (const transport of stdout) transport.silent = true;
      try {
        logger.info('a line about a patient', {
          email: 'asha@example.com',
          patient: { name: 'Asha Rao', phone: '+91 98450 12345', dateOfBirth: '1990-01-01' },
          sent: [{ to: 'asha@example.com', text: 'Dear Asha' }],
          reference: 'MC-7K2Q-9XD4',
        });
        logger.info('confirmation message (no SMTP_URL set)', {
          to: 'asha@example.com',
          text: 'Dear Asha',
          [personalDataNeeded]: true,
        });
      } finally {
        logger.level = level;
        for (const transport of stdout) transport.silent = false;
      }
      const [line, confirmation] = lines.slice(-2);
      const text = JSON.stringify(line);
      for (const secret of ['asha@example.com', 'Asha Rao', '98450', '1990-01-01', 'Dear Asha'])
        expect(text).not.to.include(secret);
      expect(line).to.include({ reference: 'MC-7K2Q-9XD4', email: '[redacted]' });
      // The one place an operator needs it: with no SMTP server, the log is the confirmation's delivery.
      expect(confirmation).to.include({ to: 'asha@example.com', text: 'Dear Asha' });
    });
  });
});
