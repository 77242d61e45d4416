import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { NodeProcess } from '../../support/api-process.js';
import { startTestApp, type TestApp } from '../../support/app.js';
import { Client } from '../../support/http.js';

describe('npm run seed:admin', function () {
  this.timeout(30_000);
  let testApp: TestApp;
  const email = `chief-${randomUUID().slice(0, 8)}@clinic.example`;
  const seed = (...args: string[]) => new NodeProcess('server/cli/seed-admin.ts', {}, args).exited;

  before(async () => {
    testApp = await startTestApp();
  });
  after(async () => {
    await testApp.close();
  });

  const login = async (password: string) => {
    const client = new Client(testApp.app);
    await client.csrf();
    return client.post('/api/auth/login', { email, password });
  };

  it('creates an admin who can log in with the admin role', async () => {
    const exit = await seed('--email', email.toUpperCase(), '--password', 'first long password');
    expect(exit.code, exit.stderr).to.equal(0);
    expect(exit.stdout).to.contain(`created admin ${email}`);
    const res = await login('first long password');
    expect(res.status).to.equal(200);
    expect(res.body.user).to.include({ email, role: 'admin' });
  });

  it('resets the password of an existing admin', async () => {
    const exit = await seed('--email', email, '--password', 'second long password');
    expect(exit.code, exit.stderr).to.equal(0);
    expect(exit.stdout).to.contain(`reset admin ${email}`);
    expect((await login('first long password')).status).to.equal(401);
    expect((await login('second long password')).status).to.equal(200);
  });

  it('refuses missing or weak arguments with usage and exit code 2, changing nothing', async () => {
    for (const args of [
      [],
      ['--email', 'not-an-email', '--password', 'long enough pass'],
      ['--email', email, '--password', 'short'],
    ]) {
      const exit = await seed(...args);
      expect(exit.code, args.join(' ')).to.equal(2);
      expect(exit.stderr).to.contain('usage: npm run seed:admin');
    }
    expect((await login('second long password')).status).to.equal(200);
  });
});
