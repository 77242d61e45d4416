import { connect } from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import express from 'express';
import { sql } from 'kysely';
import supertest from 'supertest';
import { projectRoot } from '../../../lib/paths.js';
import { errorHandler } from '../../../server/middleware/errors.js';
import type { TestApp } from '../../support/app.js';
import { expectError, quietly, rowCounts, startApiApp, trackWrites } from '../../support/api-helpers.js';
import { buildUser, loggedInAdmin } from '../../support/factories.js';
import { Client, serve } from '../../support/http.js';

const STACK_LINE = /\bat .+\.(ts|js|mjs):\d+/;

describe('security: hostile input answers 4xx, never 5xx, and writes nothing', function () {
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  const errors: unknown[] = [];

  before(async () => {
    testApp = await startApiApp();
    cleanUp = await trackWrites(testApp.db);
  });
  after(async () => {
    await cleanUp?.();
    await testApp?.close();
  });

  const users = async () =>
    Number(
      (await sql<{ n: number }>`SELECT count(*) AS n FROM identity.users`.execute(testApp.db)).rows[0]?.n,
    );

  /** A visitor with a session and its CSRF token, posting a raw form body (as a browser would). */
  async function formPost(
    route: string,
    body: string | undefined,
    type = 'application/x-www-form-urlencoded',
  ) {
    const client = new Client(testApp.app);
    const token = await client.csrf();
    let request = client.agent.post(route).set('x-csrf-token', token).set('Accept', 'text/html');
    if (body !== undefined) request = request.set('Content-Type', type).send(body);
    return request;
  }

  describe('the login form, as the issue found it', function () {
    it('POST /login with no body re-renders the form with 400 and its messages', async () => {
      const res = await formPost('/login', undefined);
      expect(res.status, res.text).to.equal(400);
      expect(res.headers['content-type']).to.match(/^text\/html/);
      expect(res.text).to.include('<form method="post" action="/login"');
      expect(res.text).to.include('Email: enter your email');
      expect(res.text).to.include('Password: enter your password');
      expect(res.text).not.to.match(STACK_LINE);
    });

    it('POST /login with email=a&email=b answers a 400 page naming the doubled field', async () => {
      const res = await formPost('/login', 'email=a%40b.c&email=b%40c.d&password=whatever12');
      expect(res.status, res.text).to.equal(400);
      expect(res.headers['content-type']).to.match(/^text\/html/);
      expect(res.text).to.include('not allowed');
      expect(res.text).not.to.match(STACK_LINE);
    });

    it('POST /login with a NUL byte in the email answers 400', async () => {
      const res = await formPost('/login', 'email=a%00%40b.c&password=whatever12');
      expect(res.status, res.text).to.equal(400);
      expect(res.text).not.to.match(STACK_LINE);
    });

    it('the JSON login with a NUL byte answers 400 in the error shape', async () => {
      const res = await new Client(testApp.app).post('/api/auth/login', {
        email: 'a\u0000@b.c',
        password: 'whatever12',
      });
      const error = expectError(res, 400, 'validation_failed');
      expect(error.details).to.deep.equal([
        { path: 'email', message: 'holds a character that is not allowed' },
      ]);
    });

    it('POST /signup with a doubled name or a NUL byte creates no account', async () => {
      const before = await users();
      const user = buildUser();
      const email = encodeURIComponent(user.email);
      for (const body of [
        `name=A&name=B&email=${email}&password=long%20enough%20pass`,
        `name=A%00B&email=${email}&password=long%20enough%20pass`,
        `name=A&email=${email}&password=long%20enough%00pass`,
      ]) {
        const res = await formPost('/signup', body);
        expect(res.status, body).to.equal(400);
      }
      expect(await users()).to.equal(before);
    });

    it('a form post with a body of a type no one reads is an empty form: 400 with the messages', async () => {
      const res = await formPost('/signup', 'name=A', 'text/plain');
      expect(res.status, res.text).to.equal(400);
      expect(res.text).to.include('Full name: enter your full name');
    });
  });

  describe('the JSON API', function () {
    const hostile: [name: string, body: unknown, field: string][] = [
      [
        'an unpaired high surrogate',
        { name: 'A\ud800', email: 'x@example.com', password: 'long enough pass' },
        'name',
      ],
      [
        'an unpaired low surrogate',
        { name: 'A\udc00B', email: 'x@example.com', password: 'long enough pass' },
        'name',
      ],
      [
        'a control character',
        { name: 'A\u001bB', email: 'x@example.com', password: 'long enough pass' },
        'name',
      ],
      ['a NUL in a key', { 'na\u0000me': 'A', email: 'x@example.com', password: 'long enough pass' }, ''],
    ];
    for (const [name, body, field] of hostile) {
      it(`refuses ${name} with 400 and creates no account`, async () => {
        const before = await users();
        const error = expectError(
          await new Client(testApp.app).post('/api/auth/signup', body as object),
          400,
        );
        expect((error.details as { path: string }[])[0]?.path).to.equal(field);
        expect(await users()).to.equal(before);
      });
    }

    it('keeps a paired surrogate (an emoji) and a newline as ordinary text', async () => {
      const res = await new Client(testApp.app).post('/api/auth/signup', buildUser({ name: 'Asha 🙂\nRao' }));
      expect(res.status, res.text).to.equal(201);
    });

    it('refuses JSON nested deeper than any schema reads with 400', async () => {
      let body: unknown = 'x';
      for (let i = 0; i < 50; i++) body = { a: body };
      expectError(await new Client(testApp.app).post('/api/auth/login', body as object), 400);
    });

    it('refuses a doubled query field and a NUL in the path with 400', async () => {
      const { client } = await loggedInAdmin(testApp.app, testApp.db);
      expectError(
        await client.get('/api/admin/bookings?status=PENDING&status=FAILED'),
        400,
        'validation_failed',
      );
      expectError(await client.get('/api/admin/audit-logs?type=%00'), 400, 'validation_failed');
      expectError(await client.get('/api/bookings/%00'), 400, 'validation_failed');
      expectError(await client.get('/api/bookings/%E0%A4'), 400);
    });

    it('refuses audit-log dates PostgreSQL cannot hold (from=-010000-01-01) with 400', async () => {
      const { client } = await loggedInAdmin(testApp.app, testApp.db);
      for (const query of [
        'from=-010000-01-01',
        'to=+275760-09-13',
        'from=10000-01-01',
        'from=2026-13-45',
        'from=1899-12-31',
        'to=yesterday',
      ]) {
        const error = expectError(
          await client.get(`/api/admin/audit-logs?${query}`),
          400,
          'validation_failed',
        );
        expect((error.details as { path: string }[])[0]?.path).to.match(/^(from|to)$/);
      }
      const ok = await client.get(
        '/api/admin/audit-logs?from=2026-01-01T00:00:00%2B05:30&to=2026-12-31T23:59:59Z',
      );
      expect(ok.status, ok.text).to.equal(200);
    });

    it('a refused booking writes nothing', async () => {
      const patient = new Client(testApp.app);
      await patient.signup(buildUser());
      const before = await rowCounts(testApp.db);
      const token = await patient.csrf();
      const res = await patient.agent
        .post('/api/bookings')
        .set('x-csrf-token', token)
        .set('Content-Type', 'application/x-www-form-urlencoded')
        .send('serviceIds=a&serviceIds=b');
      expectError(res, 400, 'validation_failed');
      expect(await rowCounts(testApp.db)).to.deep.equal(before);
    });
  });

  describe("requests the HTTP parser refuses before the app (through the web's own server)", function () {
    /** Writes raw bytes to the server and reads what it answers until it closes the connection. */
    const raw = (url: string, bytes: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(url).port), '127.0.0.1', () => socket.write(bytes));
        let answer = '';
        socket.on('data', (chunk) => (answer += chunk.toString()));
        socket.on('end', () => resolve(answer));
        socket.on('error', reject);
      });
    const bodyOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as unknown;

    it('answers an address over the header limit 431, and an unreadable request 400, in the error shape', async () => {
      const web = await serve(testApp.app);
      try {
        const before = await rowCounts(testApp.db);
        const long = await fetch(`${web.url}/api/csrf-token?q=${'x'.repeat(20_000)}`);
        expect(long.status).to.equal(431);
        expect(long.headers.get('content-type')).to.match(/^application\/json/);
        expect(await long.json()).to.deep.equal({
          error: {
            code: 'headers_too_large',
            message: 'The address or the headers of the request are too large.',
          },
        });

        const garbled = await raw(web.url, 'NOT A REQUEST\r\n\r\n');
        expect(garbled).to.match(/^HTTP\/1\.1 400 Bad Request\r\n/);
        expect(bodyOf(garbled)).to.deep.equal({
          error: { code: 'malformed_request', message: 'The request could not be read.' },
        });
        expect(await rowCounts(testApp.db)).to.deep.equal(before);
      } finally {
        await web.close();
      }
    });
  });

  describe('PostgreSQL data errors, mapped in one place', function () {
    let app: express.Express;
    before(() => {
      // Real errors of the run's database behind the app's error handler.
      app = express();
      app.set('views', path.join(projectRoot, 'views'));
      app.set('view engine', 'ejs');
      const query = (text: string) => async () => {
        await sql.raw(text).execute(testApp.db);
      };
      app.get('/api/bad-uuid', query(`SELECT 'not-a-uuid'::uuid`));
      app.get('/api/bad-date', query(`SELECT '-010000-01-01'::timestamptz`));
      app.get('/api/bad-number', query(`SELECT 99999999999::integer`));
      app.get('/api/nul', async () => {
        await sql`SELECT ${'a\u0000b'}::text`.execute(testApp.db);
      });
      app.get(
        '/api/unique',
        query(
          `INSERT INTO settings.config (id, discount_basis_points, daily_discount_quota) VALUES (1, 0, 0)`,
        ),
      );
      app.get('/api/check', query(`UPDATE settings.config SET discount_basis_points = -1 WHERE id = 1`));
      app.get('/bad-date', query(`SELECT '-010000-01-01'::timestamptz`));
      app.use((error: unknown, _req: express.Request, _res: express.Response, next: express.NextFunction) => {
        errors.push(error);
        next(error);
      });
      app.use(errorHandler);
    });

    const cases: [route: string, status: number, code: string][] = [
      ['/api/bad-uuid', 400, 'invalid_value'],
      ['/api/bad-date', 400, 'invalid_value'],
      ['/api/bad-number', 400, 'invalid_value'],
      ['/api/nul', 400, 'invalid_value'],
      ['/api/unique', 409, 'conflict'],
      ['/api/check', 422, 'invalid_value'],
    ];
    for (const [route, status, code] of cases) {
      it(`${route} answers ${status} ${code}, not a 500, without echoing the value`, async () => {
        const res = await quietly(() => supertest(app).get(route));
        expectError(res, status, code);
        expect(res.text).not.to.match(/not-a-uuid|010000|99999999999/);
      });
    }

    it('a page gets a 400 page', async () => {
      const res = await quietly(() => supertest(app).get('/bad-date').set('Accept', 'text/html'));
      expect(res.status).to.equal(400);
      expect(res.headers['content-type']).to.match(/^text\/html/);
      expect(res.text).not.to.match(STACK_LINE);
    });
  });
});
