import { expect } from 'chai';
import supertest from 'supertest';
import { findAuditEntries } from '../../../lib/audit/audit-queries.js';
import { createRedis } from '../../../lib/bus/redis.js';
import { manualClock } from '../../../lib/clock.js';
import { ServiceUnavailableError } from '../../../lib/errors.js';
import { accountLockout, addressKey, createLimiter } from '../../../server/auth/rate-limit.js';
import type { TestApp } from '../../support/app.js';
import {
  expectError,
  quietly,
  rowCounts,
  startApiApp,
  trackWrites,
  type Answer,
} from '../../support/api-helpers.js';
import { buildPatient, buildUser, createService } from '../../support/factories.js';
import { Client } from '../../support/http.js';
import { RedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';

/** A 429 always says when to come back: a whole number of seconds within the window. */
function expectRetryAfter(res: Answer, maxSeconds: number): number {
  expect(res.status, res.text).to.equal(429);
  const seconds = Number(res.headers['retry-after']);
  expect(Number.isInteger(seconds), String(res.headers['retry-after'])).to.equal(true);
  expect(seconds).to.be.within(1, maxSeconds);
  return seconds;
}

/** A client that presents itself from `address` (through the one proxy the app trusts here). */
function from(app: TestApp, address: string): Client {
  const client = new Client(app.app);
  const agent = client.agent as unknown as { set(name: string, value: string): unknown };
  agent.set('X-Forwarded-For', address);
  return client;
}

describe('security: throttling', function () {
  this.timeout(30_000);

  describe('client addresses', function () {
    it('counts IPv4 addresses one by one and IPv6 addresses by their /64', () => {
      expect(addressKey('203.0.113.7')).to.equal('203.0.113.7');
      expect(addressKey('::ffff:203.0.113.7')).to.equal('203.0.113.7');
      expect(addressKey('2001:db8:1:2::1')).to.equal('2001:db8:1:2::/64');
      expect(addressKey('2001:0db8:0001:0002:ffff:eeee:dddd:cccc')).to.equal('2001:db8:1:2::/64');
      expect(addressKey('2001:db8::1')).to.equal('2001:db8:0:0::/64');
      expect(addressKey('::1')).to.equal('0:0:0:0::/64');
      expect(addressKey('2001:db8:1:3::1')).not.to.equal(addressKey('2001:db8:1:2::1'));
      expect(addressKey('not an address')).to.equal('unknown');
      expect(addressKey(undefined)).to.equal('unknown');
    });
  });

  describe('login per account, progressive, from any address', function () {
    let app: TestApp;
    const clock = manualClock('2026-03-02T10:00:00Z');
    before(async () => {
      app = await startApiApp({
        clock,
        env: { TRUST_PROXY: '1', LOGIN_ACCOUNT_FREE_ATTEMPTS: '3', LOGIN_ACCOUNT_MAX_LOCK_SECONDS: '60' },
      });
    });
    after(async () => {
      await app?.close();
    });

    it('locks the account 1 s, 2 s, 4 s … after the free attempts, whatever the address; a success clears it', async () => {
      const input = buildUser();
      await new Client(app.app).signup(input);
      let n = 0;
      const attempt = (password: string) =>
        from(app, `198.51.100.${++n}`).post('/api/auth/login', { email: input.email, password });

      for (let i = 0; i < 3; i++) expectError(await attempt('wrong guess'), 401);
      expect(expectRetryAfter(await attempt(input.password), 1)).to.equal(1);
      clock.advance(1_000);
      expectError(await attempt('wrong guess'), 401);
      const second = await attempt(input.password);
      expectError(second, 429, 'too_many_requests');
      expect(expectRetryAfter(second, 2)).to.equal(2);
      clock.advance(2_000);
      expectError(await attempt('wrong guess'), 401);
      expect(expectRetryAfter(await attempt(input.password), 4)).to.equal(4);
      clock.advance(4_000);

      const owner = await attempt(input.password);
      expect(owner.status, owner.text).to.equal(200);
      // Cleared: the next mistake is a plain 401 again.
      expectError(await attempt('wrong guess'), 401);
      expect((await attempt(input.password)).status).to.equal(200);
    });

    it('never locks for longer than the maximum', async () => {
      const input = buildUser();
      await new Client(app.app).signup(input);
      for (let i = 0; i < 12; i++) {
        await from(app, `192.0.2.${i}`).post('/api/auth/login', {
          email: input.email,
          password: 'wrong guess',
        });
        clock.advance(60_000);
      }
      await from(app, '192.0.2.99').post('/api/auth/login', { email: input.email, password: 'wrong guess' });
      expectRetryAfter(await from(app, '192.0.2.100').post('/api/auth/login', input), 60);
    });

    it('puts the 429 in the audit trail with the account and the address, once a minute', async () => {
      const input = buildUser();
      await new Client(app.app).signup(input);
      for (let i = 0; i < 3; i++)
        await from(app, '203.0.113.50').post('/api/auth/login', { email: input.email, password: 'wrong' });
      for (let i = 0; i < 3; i++)
        expectRetryAfter(await from(app, '203.0.113.50').post('/api/auth/login', input), 1);

      const throttled = await findAuditEntries(app.db, { type: 'LoginThrottled', actor: input.email });
      expect(throttled).to.have.length(1);
      expect(throttled[0]!.data).to.deep.include({ address: '203.0.113.50', path: '/auth/login' });
      const failed = await findAuditEntries(app.db, { type: 'LoginFailed', actor: input.email });
      expect(failed).to.have.length(3);
      expect(failed.map((entry) => (entry.data as { address: string }).address)).to.deep.equal(
        Array(3).fill('203.0.113.50'),
      );
    });
  });

  describe('login per address, IPv6 by /64', function () {
    let app: TestApp;
    before(async () => {
      app = await startApiApp({ env: { TRUST_PROXY: '1', LOGIN_ADDRESS_RATE_LIMIT: '3' } });
    });
    after(async () => {
      await app?.close();
    });

    it('counts every address of one /64 together, and another /64 apart', async () => {
      const attempt = (address: string, n: number) =>
        from(app, address).post('/api/auth/login', {
          email: `guess-${n}@example.com`,
          password: 'wrong guess',
        });
      expectError(await attempt('2001:db8:1:2::1', 1), 401);
      expectError(await attempt('2001:db8:1:2::2', 2), 401);
      expectError(await attempt('2001:db8:1:2:aaaa:bbbb:cccc:dddd', 3), 401);
      expectRetryAfter(await attempt('2001:db8:1:2::ffff', 4), 900);
      expectError(await attempt('2001:db8:1:3::1', 5), 401);
    });
  });

  describe('sign-up per address, pages and API', function () {
    let app: TestApp;
    before(async () => {
      app = await startApiApp({ env: { TRUST_PROXY: '1', SIGNUP_RATE_LIMIT: '2' } });
    });
    after(async () => {
      await app?.close();
    });

    it('answers 429 with Retry-After past the limit, on the API and on the form, and creates no account', async () => {
      for (let i = 0; i < 2; i++) await from(app, '198.51.100.200').signup(buildUser());
      const blocked = buildUser();
      const res = await from(app, '198.51.100.200').post('/api/auth/signup', blocked);
      expectError(res, 429, 'too_many_requests');
      expectRetryAfter(res, 3600);

      const page = from(app, '198.51.100.200');
      const token = await page.csrf();
      const form = await page.agent
        .post('/signup')
        .type('form')
        .send({ _csrf: token, ...blocked });
      expectRetryAfter(form, 3600);
      expect(form.headers['content-type']).to.match(/^text\/html/);
      expect(form.text).to.include('Too many sign-ups');
      expect(form.text).to.include('<form method="post" action="/signup"');

      const count = await app.db
        .selectFrom('identity.users')
        .select('id')
        .where('email', '=', blocked.email)
        .execute();
      expect(count).to.have.length(0);
      await from(app, '198.51.100.201').signup(buildUser());
    });

    it('the login form answers its 429 with Retry-After too', async () => {
      const limited = await startApiApp({ env: { TRUST_PROXY: '1', LOGIN_RATE_LIMIT: '1' } });
      try {
        const client = from(limited, '198.51.100.210');
        const token = await client.csrf();
        const body = { _csrf: token, email: 'someone@example.com', password: 'wrong guess' };
        expect((await client.agent.post('/login').type('form').send(body)).status).to.equal(401);
        const res = await client.agent.post('/login').type('form').send(body);
        expectRetryAfter(res, 900);
        expect(res.text).to.include('Too many login attempts');
      } finally {
        await limited.close();
      }
    });
  });

  describe('bookings per patient', function () {
    let app: TestApp;
    let cleanUp: () => Promise<void>;
    let serviceId: string;
    before(async () => {
      app = await startApiApp({ env: { BOOKING_RATE_LIMIT: '3', BOOKING_PENDING_LIMIT: '2' } });
      cleanUp = await trackWrites(app.db);
      serviceId = (await createService(app.db)).id;
    });
    after(async () => {
      await cleanUp?.();
      await app?.close();
    });

    const patientDetails = buildPatient();
    const book = (client: Client, key?: string) =>
      client.post(
        '/api/bookings',
        { patient: patientDetails, serviceIds: [serviceId] },
        key ? { 'Idempotency-Key': key } : {},
      );

    it('caps pending bookings; a repeat of a key that already booked is still answered', async () => {
      const patient = new Client(app.app);
      const user = await patient.signup(buildUser());
      const first = await book(patient, 'first-key');
      expect(first.status, first.text).to.equal(202);
      expect((await book(patient)).status).to.equal(202);

      const before = await rowCounts(app.db);
      const third = await book(patient);
      expectError(third, 429, 'too_many_requests');
      expectRetryAfter(third, 60);
      expect(third.body.error.message).to.include('2 bookings still being processed');
      expect(await rowCounts(app.db)).to.deep.equal(before);
      const throttled = await findAuditEntries(app.db, { type: 'BookingThrottled', actor: user.email });
      expect(throttled.map((entry) => entry.data)).to.deep.equal([
        { address: '127.0.0.1', path: '/api/bookings' },
      ]);

      const repeat = await book(patient, 'first-key');
      expect(repeat.status, repeat.text).to.equal(202);
      expect(repeat.body.booking.id).to.equal(first.body.booking.id);

      // Another patient has a cap of their own.
      const other = new Client(app.app);
      await other.signup(buildUser());
      expect((await book(other)).status).to.equal(202);
    });

    it('limits bookings per window even when none is pending', async () => {
      const patient = new Client(app.app);
      const user = await patient.signup(buildUser());
      const finish = () =>
        app.db
          .updateTable('booking.bookings')
          .set({ status: 'CONFIRMED' })
          .where('user_id', '=', user.id)
          .execute();
      for (let i = 0; i < 3; i++) {
        expect((await book(patient)).status).to.equal(202);
        await finish();
      }
      const before = await rowCounts(app.db);
      expectRetryAfter(await book(patient), 3600);
      expect(await rowCounts(app.db)).to.deep.equal(before);
      // An invalid booking is refused for what it is, not counted.
      const invalid = await patient.post('/api/bookings', { serviceIds: [] });
      expectError(invalid, 400, 'validation_failed');
    });
  });

  describe('with Redis down', function () {
    let redis: RedisServer;
    let app: TestApp;
    before(async () => {
      redis = await RedisServer.start();
      app = await startApiApp({ env: { REDIS_URL: redis.url } });
      // The outage below makes the client report connection errors; the answers are what is tested.
      app.redis.on('error', () => {});
    });
    after(async () => {
      await app?.close().catch(() => {});
      await redis?.stop();
    });

    it('a limiter that cannot count refuses with 503, never lets an attempt through uncounted', async () => {
      const dead = createRedis('redis://127.0.0.1:1', 'web', 'test-dead-limiter');
      dead.on('error', () => {});
      try {
        const limiter = createLimiter(dead, 'test:rl', 5, 60, 'limited');
        const lockout = accountLockout({
          redis: dead,
          keyPrefix: 'test:acct',
          clock: manualClock(new Date()),
          freeAttempts: 1,
          maxLockSeconds: 1,
        });
        for (const attempt of [
          () => limiter.consume('k'),
          () => lockout.check('a'),
          () => lockout.failed('a'),
        ]) {
          let refused: unknown;
          await attempt().catch((error) => (refused = error));
          expect(refused).to.be.instanceOf(ServiceUnavailableError);
        }
      } finally {
        dead.disconnect();
      }
    });

    it('login and sign-up answer 503 with Retry-After (API and pages), and work again when Redis is back', async () => {
      const input = buildUser();
      const client = new Client(app.app);
      await client.signup(input);
      await client.post('/api/auth/logout');
      const token = await client.csrf();

      await redis.kill();
      const api = await quietly(() =>
        client.agent.post('/api/auth/login').set('x-csrf-token', token).send(input),
      );
      expectError(api, 503, 'unavailable');
      expect(Number(api.headers['retry-after'])).to.be.above(0);
      const page = await quietly(() =>
        client.agent
          .post('/login')
          .type('form')
          .set('Accept', 'text/html')
          .send({ _csrf: token, ...input }),
      );
      expect(page.status).to.equal(503);
      expect(page.headers['content-type']).to.match(/^text\/html/);
      expect(Number(page.headers['retry-after'])).to.be.above(0);
      const signup = await quietly(() =>
        client.agent.post('/api/auth/signup').set('x-csrf-token', token).send(buildUser()),
      );
      expectError(signup, 503, 'unavailable');

      await redis.launch();
      await waitFor(async () => (await supertest(app.app).get('/readyz')).status === 200, {
        timeoutMs: 10_000,
        message: 'the web reconnected to Redis',
      });
      const again = new Client(app.app);
      expect((await again.login(input)).email).to.equal(input.email);
    });
  });
});
