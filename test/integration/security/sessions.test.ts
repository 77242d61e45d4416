import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import supertest from 'supertest';
import { manualClock } from '../../../lib/clock.js';
import { ConfigError, loadConfig } from '../../../lib/config.js';
import { PromotionRefusedError, upsertAdmin } from '../../../lib/identity/user-service.js';
import { NodeProcess } from '../../support/api-process.js';
import type { TestApp } from '../../support/app.js';
import { expectError, setCookie, startApiApp, trackWrites } from '../../support/api-helpers.js';
import { buildUser } from '../../support/factories.js';
import { Client } from '../../support/http.js';

const MINUTE = 60_000;
const oldSecret = 'old-secret-Xq3vL9pT2mW8rK5nB7cZ4e';
const newSecret = 'new-secret-Hj4sD6fG1aQ0wE9yU2iO7t';

describe('security: sessions end when they should', function () {
  this.timeout(30_000);
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

  const role = async (email: string) =>
    (
      await testApp.db
        .selectFrom('identity.users')
        .select('role')
        .where('email', '=', email)
        .executeTakeFirstOrThrow()
    ).role;

  describe('no role by accident', function () {
    it('seed:admin for a patient’s email is refused without --promote; the patient stays a patient', async () => {
      const input = buildUser();
      const patient = new Client(testApp.app);
      await patient.signup(input);

      let refused: unknown;
      await upsertAdmin(testApp.db, { ...input, password: 'admin password 123' }).catch(
        (error) => (refused = error),
      );

      expect(refused).to.be.instanceOf(PromotionRefusedError);
      expect(await role(input.email)).to.equal('user');
      const me = await patient.get('/api/me').expect(200);
      expect(me.body.user.role).to.equal('user');
      await new Client(testApp.app).login(input);
    });

    it('with --promote the account becomes an admin and its live sessions end', async () => {
      const input = buildUser();
      const patient = new Client(testApp.app);
      await patient.signup(input);
      await patient.get('/api/me').expect(200);

      const exit = await new NodeProcess('server/cli/seed-admin.ts', {}, [
        '--email',
        input.email,
        '--password',
        'a new admin password',
        '--promote',
      ]).exited;

      expect(exit.code, exit.stderr).to.equal(0);
      expect(exit.stdout).to.contain(`promoted to admin ${input.email}`);
      expectError(await patient.get('/api/me'), 401, 'unauthorized');
      const admin = await new Client(testApp.app).login({
        email: input.email,
        password: 'a new admin password',
      });
      expect(admin.role).to.equal('admin');
    });

    it('the command without --promote exits 3, saying why, and changes nothing', async () => {
      const input = buildUser();
      const patient = new Client(testApp.app);
      await patient.signup(input);

      const exit = await new NodeProcess('server/cli/seed-admin.ts', {}, [
        '--email',
        input.email,
        '--password',
        'a new admin password',
      ]).exited;

      expect(exit.code).to.equal(3);
      expect(exit.stderr).to.contain('pass --promote');
      expect(await role(input.email)).to.equal('user');
      await patient.get('/api/me').expect(200);
      await new Client(testApp.app).login(input);
    });
  });

  describe('a password change', function () {
    it('ends the account’s other sessions and keeps the one that changed it', async () => {
      const input = buildUser();
      const here = new Client(testApp.app);
      await here.signup(input);
      const elsewhere = new Client(testApp.app);
      await elsewhere.login(input);

      const res = await here.post('/api/auth/password', {
        currentPassword: input.password,
        newPassword: 'a brand new password',
      });

      expect(res.status, res.text).to.equal(204);
      await here.get('/api/me').expect(200);
      expectError(await elsewhere.get('/api/me'), 401, 'unauthorized');
      expectError(await new Client(testApp.app).post('/api/auth/login', input), 401);
      await new Client(testApp.app).login({ email: input.email, password: 'a brand new password' });
    });

    it('refuses a wrong current password with 400 and changes nothing', async () => {
      const input = buildUser();
      const here = new Client(testApp.app);
      await here.signup(input);
      const elsewhere = new Client(testApp.app);
      await elsewhere.login(input);

      const res = await here.post('/api/auth/password', {
        currentPassword: 'not my password',
        newPassword: 'a brand new password',
      });

      const error = expectError(res, 400, 'validation_failed');
      expect(error.details).to.deep.equal([
        { path: 'currentPassword', message: 'is not your current password' },
      ]);
      await elsewhere.get('/api/me').expect(200);
      await new Client(testApp.app).login(input);
    });
  });

  describe('idle and absolute lifetime', function () {
    let clocked: TestApp;
    const clock = manualClock('2026-03-02T10:00:00Z');
    before(async () => {
      clocked = await startApiApp({
        clock,
        env: { SESSION_IDLE_MINUTES: '30', SESSION_ABSOLUTE_HOURS: '12' },
      });
    });
    after(async () => {
      await clocked?.close();
    });

    it('ends a session idle for more than 30 minutes', async () => {
      const client = new Client(clocked.app);
      await client.signup(buildUser());
      clock.advance(29 * MINUTE);
      await client.get('/api/me').expect(200);
      clock.advance(29 * MINUTE);
      await client.get('/api/me').expect(200);
      clock.advance(31 * MINUTE);
      expectError(await client.get('/api/me'), 401, 'unauthorized');
      // Ended, not paused: going back in time does not bring it back.
      clock.advance(-31 * MINUTE);
      expectError(await client.get('/api/me'), 401, 'unauthorized');
    });

    it('ends a session 12 hours after login however active it was', async () => {
      const client = new Client(clocked.app);
      await client.signup(buildUser());
      for (let minutes = 20; minutes < 12 * 60; minutes += 20) {
        clock.advance(20 * MINUTE);
        const res = await client.get('/api/me');
        expect(res.status, `after ${minutes} minutes`).to.equal(200);
      }
      // 12 hours and a minute after login.
      clock.advance(21 * MINUTE);
      expectError(await client.get('/api/me'), 401, 'unauthorized');
    });
  });

  describe('the cookie', function () {
    const lifetime = (attributes: string[]) =>
      attributes.filter((attribute) => /^(expires|max-age)=/i.test(attribute));

    it('lasts until the browser closes, unless the user asks to be remembered', async () => {
      const input = buildUser();
      await new Client(testApp.app).signup(input);

      const plain = new Client(testApp.app);
      await plain.csrf();
      const forgotten = setCookie(await plain.post('/api/auth/login', input), 'clinic.sid');
      expect(forgotten, 'a session cookie').to.not.equal(undefined);
      expect(lifetime(forgotten!.attributes)).to.deep.equal([]);
      expect(lifetime(setCookie(await plain.get('/api/me'), 'clinic.sid')?.attributes ?? [])).to.deep.equal(
        [],
      );

      const remembered = new Client(testApp.app);
      await remembered.csrf();
      const kept = setCookie(
        await remembered.post('/api/auth/login', { ...input, remember: true }),
        'clinic.sid',
      );
      const expires = kept!.attributes.find((attribute) => /^expires=/i.test(attribute));
      const hours = (Date.parse(expires!.slice('expires='.length)) - Date.now()) / 3600_000;
      expect(hours).to.be.within(11.9, 12);
    });

    it('renews the session in Redis at most once a minute, however many requests it makes', async () => {
      const input = buildUser();
      const client = new Client(testApp.app);
      await client.csrf();
      const cookie = setCookie(await client.post('/api/auth/signup', input), 'clinic.sid');
      // The signed cookie is s:<id>.<signature>.
      const sid = /^s:([^.]+)\./.exec(decodeURIComponent(cookie!.value))![1]!;
      const key = `${testApp.config.REDIS_PREFIX}sess:${sid}`;
      const full = await testApp.redis.pttl(key);
      expect(full).to.be.greaterThan(30 * MINUTE);
      // As if the session had aged: a renewal now would put its time to live back near the full one.
      await testApp.redis.pexpire(key, 10 * MINUTE);
      for (let i = 0; i < 5; i++) expect((await client.get('/api/me')).status).to.equal(200);
      expect(await testApp.redis.pttl(key)).to.be.at.most(10 * MINUTE);
    });

    it('the login form’s "remember me" checkbox keeps the cookie too', async () => {
      const input = buildUser();
      await new Client(testApp.app).signup(input);
      const client = new Client(testApp.app);
      const token = await client.csrf();
      const res = await client.agent
        .post('/login')
        .type('form')
        .send({ _csrf: token, email: input.email, password: input.password, remember: 'on' });
      expect(res.status, res.text).to.equal(303);
      expect(lifetime(setCookie(res, 'clinic.sid')!.attributes)).to.have.length.above(0);
    });
  });

  describe('keys derived from SESSION_SECRET, rotated', function () {
    const prefix = `${process.env.REDIS_PREFIX}rotation-${randomUUID().slice(0, 8)}:`;
    const apps: TestApp[] = [];
    const appWith = async (secret: string) => {
      const app = await startApiApp({ env: { REDIS_PREFIX: prefix, SESSION_SECRET: secret } });
      apps.push(app);
      return app;
    };
    after(async () => {
      await Promise.all(apps.map((app) => app.close()));
    });

    /** The cookies a client holds, to present them to another web process. */
    const cookiesOf = (client: Client) =>
      client.agent.jar
        .getCookies({ domain: '127.0.0.1', path: '/', secure: false, script: false })
        .map((cookie) => `${cookie.name}=${cookie.value}`)
        .join('; ');

    it('keeps sessions and CSRF tokens of the old secret while it is listed second, and ends them after', async () => {
      const before = await appWith(oldSecret);
      const client = new Client(before.app);
      await client.signup(buildUser());
      const token = await client.csrf();
      const cookies = cookiesOf(client);
      expect(cookies).to.include('clinic.sid=');

      const rotated = await appWith(`${newSecret},${oldSecret}`);
      await supertest(rotated.app).get('/api/me').set('Cookie', cookies).expect(200);
      const res = await supertest(rotated.app)
        .post('/api/auth/logout')
        .set('Cookie', cookies)
        .set('x-csrf-token', token);
      expect(res.status, res.text).to.equal(204);

      const again = new Client(before.app);
      await again.signup(buildUser());
      await supertest(rotated.app).get('/api/me').set('Cookie', cookiesOf(again)).expect(200);
      const retired = await appWith(newSecret);
      expectError(
        await supertest(retired.app).get('/api/me').set('Cookie', cookiesOf(again)),
        401,
        'unauthorized',
      );
    });

    it('derives a session key and a CSRF key apart, neither the secret itself', () => {
      const config = loadConfig({ NODE_ENV: 'production', SESSION_SECRET: `${newSecret},${oldSecret}` });
      expect(config.keys.session).to.have.length(2);
      expect(config.keys.csrf).to.have.length(2);
      const all = [...config.keys.session, ...config.keys.csrf];
      expect(new Set(all).size).to.equal(4);
      expect(all).not.to.include(newSecret);
      expect(all).not.to.include(oldSecret);
    });
  });

  describe('production refuses to start without a real secret, whatever NODE_ENV says', function () {
    for (const [name, env, build] of [
      ['NODE_ENV=production, no secret', { NODE_ENV: 'production' }, false],
      ['the build with no NODE_ENV and no secret', {}, true],
      ['the build with NODE_ENV=development and no secret', { NODE_ENV: 'development' }, true],
      [
        'the build with the development secret',
        { SESSION_SECRET: 'development-only-session-secret-change-me' },
        true,
      ],
      [
        'production with one repeated character',
        { NODE_ENV: 'production', SESSION_SECRET: 'a'.repeat(40) },
        false,
      ],
      [
        'production with a short second value',
        { NODE_ENV: 'production', SESSION_SECRET: `${newSecret},short` },
        false,
      ],
    ] as const) {
      it(`refuses ${name}`, () => {
        expect(() => loadConfig(env, { build })).to.throw(ConfigError, /SESSION_SECRET/);
      });
    }

    it('a build without NODE_ENV is production: secure cookies, one proxy trusted', () => {
      const config = loadConfig({ SESSION_SECRET: newSecret }, { build: true });
      expect(config).to.include({ production: true, NODE_ENV: 'production', TRUST_PROXY: 1 });
    });

    it('the sources without NODE_ENV run as development, with the development secret', () => {
      expect(loadConfig({}, { build: false })).to.include({ production: false, NODE_ENV: 'development' });
    });
  });
});
