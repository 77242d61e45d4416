import { expect } from 'chai';
import supertest from 'supertest';
import type { TestApp } from '../../support/app.js';
import { expectError, setCookie, startApiApp, trackWrites } from '../../support/api-helpers.js';
import { buildUser, signedUpPatient } from '../../support/factories.js';
import { Client } from '../../support/http.js';

describe('API: authentication, sessions and CSRF', function () {
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

  const usersWithEmail = async (email: string) =>
    (
      await testApp.db
        .selectFrom('identity.users')
        .select('id')
        .where('email', '=', email.toLowerCase())
        .execute()
    ).length;

  /** A client with a CSRF token of its (anonymous) session and that session's cookie. */
  async function anonymous() {
    const client = new Client(testApp.app);
    const res = await client.agent.get('/api/csrf-token').expect(200);
    const token = (res.body as { token: string }).token;
    return { client, token, sessionCookie: setCookie(res, 'clinic.sid') };
  }

  it('signs up with 201 {user}, logged in at once', async () => {
    const input = buildUser({ name: 'Anita Desai' });
    const { client, token } = await anonymous();

    const res = await client.agent.post('/api/auth/signup').set('x-csrf-token', token).send(input);

    expect(res.status, res.text).to.equal(201);
    const user = (res.body as { user: { id: string; email: string; name: string; role: string } }).user;
    expect(user).to.include({ email: input.email, name: 'Anita Desai', role: 'user' });
    expect(user.id).to.match(/^[0-9a-f-]{36}$/);
    expect(res.text).not.to.include(input.password);
    const me = await client.get('/api/me').expect(200);
    expect(me.body).to.deep.equal({
      user: { id: user.id, email: input.email, name: 'Anita Desai', role: 'user' },
    });
  });

  it('refuses a second account for an email, whatever its case, with 409', async () => {
    const input = buildUser();
    await new Client(testApp.app).signup(input);

    const again = await new Client(testApp.app).post('/api/auth/signup', { ...input, name: 'Someone Else' });
    expectError(again, 409, 'email_taken');
    const shouted = await new Client(testApp.app).post('/api/auth/signup', {
      ...input,
      email: input.email.toUpperCase(),
    });
    expectError(shouted, 409, 'email_taken');
    expect(await usersWithEmail(input.email)).to.equal(1);
  });

  it('logs in with 200 {user}; a wrong password and an unknown email get the same 401', async () => {
    const input = buildUser();
    const created = await new Client(testApp.app).signup(input);

    const client = new Client(testApp.app);
    const ok = await client.post('/api/auth/login', { email: input.email, password: input.password });
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.body).to.deep.equal({ user: created });
    await client.csrf();
    expect((await client.get('/api/me').expect(200)).body.user.id).to.equal(created.id);

    const wrongPassword = await new Client(testApp.app).post('/api/auth/login', {
      email: input.email,
      password: 'not the password',
    });
    const unknownEmail = await new Client(testApp.app).post('/api/auth/login', {
      email: `nobody-${created.id}@example.com`,
      password: input.password,
    });
    const first = expectError(wrongPassword, 401);
    const second = expectError(unknownEmail, 401);
    expect(second).to.deep.equal(first);
  });

  it('gives a new session id at login: the id from before login is not logged in', async () => {
    const input = buildUser();
    await new Client(testApp.app).signup(input);
    const { client, token, sessionCookie } = await anonymous();
    expect(sessionCookie, 'an anonymous session holds the CSRF token').to.not.equal(undefined);

    const res = await client.agent
      .post('/api/auth/login')
      .set('x-csrf-token', token)
      .send({ email: input.email, password: input.password });

    expect(res.status, res.text).to.equal(200);
    const loggedIn = setCookie(res, 'clinic.sid');
    expect(loggedIn?.value).to.be.a('string').and.not.equal(sessionCookie!.value);
    await supertest(testApp.app).get('/api/me').set('Cookie', `clinic.sid=${loggedIn!.value}`).expect(200);
    // Session fixation: whoever knew the pre-login id must not be logged in with it.
    expectError(
      await supertest(testApp.app).get('/api/me').set('Cookie', `clinic.sid=${sessionCookie!.value}`),
      401,
      'unauthorized',
    );
  });

  it('logs out with 204; the session is gone on the server, not only in the browser', async () => {
    const { client, user } = await signedUpPatient(testApp.app);
    const me = await client.get('/api/me').expect(200);
    expect(me.body.user.id).to.equal(user.id);
    const loggedInCookie = setCookie(await client.get('/api/me'), 'clinic.sid');
    expect(loggedInCookie, 'a rolling session renews its cookie').to.not.equal(undefined);

    const res = await client.post('/api/auth/logout');

    expect(res.status, res.text).to.equal(204);
    expect(res.text).to.equal('');
    expectError(await client.get('/api/me'), 401, 'unauthorized');
    expectError(
      await supertest(testApp.app).get('/api/me').set('Cookie', `clinic.sid=${loggedInCookie!.value}`),
      401,
      'unauthorized',
    );
  });

  it('answers /api/me and logout with 401 to an anonymous visitor', async () => {
    expectError(await supertest(testApp.app).get('/api/me'), 401, 'unauthorized');
    expectError(await new Client(testApp.app).post('/api/auth/logout'), 401, 'unauthorized');
  });

  it('refuses a change without a valid CSRF token with 403 csrf_invalid and writes nothing', async () => {
    const input = buildUser();

    const noToken = await supertest(testApp.app).post('/api/auth/signup').send(input);
    expectError(noToken, 403, 'csrf_invalid');
    const { client } = await anonymous();
    const forged = await client.agent
      .post('/api/auth/signup')
      .set('x-csrf-token', 'forged-token')
      .send(input);
    expectError(forged, 403, 'csrf_invalid');
    // A token of another session is no good either.
    const { token: othersToken } = await anonymous();
    const borrowed = await client.agent.post('/api/auth/signup').set('x-csrf-token', othersToken).send(input);
    expectError(borrowed, 403, 'csrf_invalid');

    expect(await usersWithEmail(input.email)).to.equal(0);
  });

  it('refuses after login the CSRF token issued before it (the session was regenerated)', async () => {
    const input = buildUser();
    await new Client(testApp.app).signup(input);
    const { client, token } = await anonymous();
    await client.agent
      .post('/api/auth/login')
      .set('x-csrf-token', token)
      .send({ email: input.email, password: input.password })
      .expect(200);

    const stale = await client.agent.post('/api/auth/logout').set('x-csrf-token', token);

    expectError(stale, 403, 'csrf_invalid');
    await client.get('/api/me').expect(200);
    const fresh = (await client.agent.get('/api/csrf-token').expect(200)).body.token as string;
    expect(fresh).to.not.equal(token);
    await client.agent.post('/api/auth/logout').set('x-csrf-token', fresh).expect(204);
  });

  describe('login rate limit', function () {
    let limited: TestApp;
    before(async () => {
      limited = await startApiApp({ env: { LOGIN_RATE_LIMIT: '3' } });
    });
    after(async () => {
      await limited?.close();
    });

    it('answers 429 with Retry-After once LOGIN_RATE_LIMIT attempts are used, even to the right password', async () => {
      const input = buildUser();
      await new Client(limited.app).signup(input);
      const attempt = (password: string) =>
        new Client(limited.app).post('/api/auth/login', { email: input.email, password });

      for (let i = 1; i <= 3; i++) expectError(await attempt(`wrong guess ${i}`), 401);
      const blocked = await attempt('wrong guess 4');
      const blockedRight = await attempt(input.password);

      for (const res of [blocked, blockedRight]) {
        expectError(res, 429, 'too_many_requests');
        const retryAfter = Number(res.headers['retry-after']);
        expect(retryAfter).to.be.within(1, 900);
        expect(Number.isInteger(retryAfter)).to.equal(true);
      }
      // The limit counts per account: another one from the same address still logs in.
      const other = buildUser();
      await new Client(limited.app).signup(other);
      expect(
        (
          await new Client(limited.app).post('/api/auth/login', {
            email: other.email,
            password: other.password,
          })
        ).status,
      ).to.equal(200);
    });
  });

  describe('login rate limit per address', function () {
    let limited: TestApp;
    before(async () => {
      limited = await startApiApp({ env: { LOGIN_ADDRESS_RATE_LIMIT: '4' } });
    });
    after(async () => {
      await limited?.close();
    });

    it('answers 429 once one address used LOGIN_ADDRESS_RATE_LIMIT attempts, across different emails', async () => {
      const attempt = (n: number) =>
        new Client(limited.app).post('/api/auth/login', {
          email: `guess-${n}@example.com`,
          password: 'wrong guess',
        });
      for (let n = 1; n <= 4; n++) expectError(await attempt(n), 401);
      expectError(await attempt(5), 429, 'too_many_requests');
    });
  });

  it('stores passwords hashed with argon2id', async () => {
    const input = buildUser();
    await new Client(testApp.app).signup(input);

    const row = await testApp.db
      .selectFrom('identity.users')
      .select('password_hash')
      .where('email', '=', input.email)
      .executeTakeFirstOrThrow();

    expect(row.password_hash).to.match(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
    expect(row.password_hash).not.to.include(input.password);
  });

  it('sets the session cookie HttpOnly and SameSite=Lax', async () => {
    const { sessionCookie } = await anonymous();
    const loggedIn = setCookie(
      await new Client(testApp.app).post('/api/auth/signup', buildUser()),
      'clinic.sid',
    );

    for (const cookie of [sessionCookie, loggedIn]) {
      expect(cookie).to.not.equal(undefined);
      const attributes = cookie!.attributes.map((attribute) => attribute.toLowerCase());
      expect(attributes).to.include('httponly');
      expect(attributes).to.include('samesite=lax');
    }
  });

  it('sends security headers: a CSP without inline script, nosniff, no framing', async () => {
    for (const path of ['/', '/api/services']) {
      const res = await supertest(testApp.app).get(path).expect(200);
      const csp = String(res.headers['content-security-policy']);
      const directives = new Map(
        csp.split(';').map((directive) => {
          const [name = '', ...values] = directive.trim().split(/\s+/);
          return [name, values] as const;
        }),
      );
      const scriptSrc = directives.get('script-src') ?? directives.get('default-src');
      expect(scriptSrc, csp).to.include("'self'");
      expect(scriptSrc, csp).not.to.include("'unsafe-inline'");
      expect(scriptSrc, csp).not.to.include("'unsafe-eval'");
      expect(directives.get('frame-ancestors'), csp).to.deep.equal(["'none'"]);
      expect(res.headers['x-content-type-options']).to.equal('nosniff');
      expect(res.headers['x-powered-by']).to.equal(undefined);
    }
  });
});
