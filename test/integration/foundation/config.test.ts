import { expect } from 'chai';
import { clinicOf, ConfigError, loadConfig } from '../../../lib/config.js';
import { runNode, type Exit } from '../../support/api-process.js';

describe('configuration from the environment', function () {
  this.timeout(30_000);

  describe('a wrong value stops a process with one line naming the variable', function () {
    const wrong: [script: string, variable: string, value: string][] = [
      ['server/cli/migrate.ts', 'PORT', 'abc'],
      ['server/cli/migrate.ts', 'DATABASE_URL', 'not-a-url'],
      ['server/cli/migrate.ts', 'PAYMENT_SIMULATION_MODE', 'sometimes'],
      ['workers/pricing.ts', 'PAYMENT_SIMULATION_MODE', 'sometimes'],
    ];
    const variables = [...new Set(wrong.map(([, variable]) => variable))];

    // Each start of tsx takes seconds on a small machine: run them side by side.
    let exits: Promise<Exit>[];
    before(() => {
      exits = wrong.map(([script, variable, value]) => runNode(script, { [variable]: value }));
    });
    after(async () => {
      await Promise.allSettled(exits);
    });

    wrong.forEach(([script, variable, value], index) => {
      it(`${script} with ${variable}=${value}`, async () => {
        const { code, signal, stdout, stderr } = await exits[index]!;

        expect(signal).to.equal(null);
        expect(code, stderr).to.be.a('number').and.not.equal(0);
        const lines = stderr.split('\n').filter((line) => line.trim() !== '');
        expect(lines, stderr).to.have.length(1);
        expect(lines[0]).to.match(new RegExp(`^Invalid configuration: ${variable}: \\S`));
        for (const other of variables.filter((name) => name !== variable))
          expect(lines[0]).not.to.include(other);
        expect(lines[0]).not.to.match(/\bat .+:\d+/);
        expect(stdout).to.equal('');
      });
    });
  });

  describe('loadConfig', function () {
    it('gives working defaults for an empty environment', () => {
      const config = loadConfig({});
      expect(config).to.include({
        NODE_ENV: 'development',
        PORT: 3000,
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/clinic',
        REDIS_URL: 'redis://127.0.0.1:6379',
        REDIS_PREFIX: 'clinic:',
        PAYMENT_SIMULATION_MODE: 'success',
        LOG_LEVEL: 'info',
        SHUTDOWN_TIMEOUT_MS: 25_000,
      });
      expect(config.LOGIN_RATE_LIMIT).to.be.within(1, 100);
      expect(config.SIGNUP_RATE_LIMIT).to.be.within(1, 100);
      expect(config.keys.session).to.have.length(1);
      expect(config.keys.csrf).to.have.length(1);
    });

    it('reads numbers from text and treats a blank value as unset', () => {
      expect(loadConfig({ PORT: '8080', LOGIN_RATE_LIMIT: '3' })).to.include({
        PORT: 8080,
        LOGIN_RATE_LIMIT: 3,
      });
      expect(loadConfig({ PORT: '', PAYMENT_SIMULATION_MODE: '' })).to.include({
        PORT: 3000,
        PAYMENT_SIMULATION_MODE: 'success',
      });
    });

    for (const [variable, value] of [
      ['PORT', '70000'],
      ['PORT', '0'],
      ['PORT', '80.5'],
      ['REDIS_URL', 'http://127.0.0.1:6379'],
      ['DATABASE_URL', 'mysql://db/clinic'],
      ['PAYMENT_FAILURE_RATE', '1.5'],
      ['LOGIN_RATE_LIMIT', '0'],
      ['NODE_ENV', 'staging'],
      ['CLINIC_GSTIN', '27AAPFU0939F1ZW'],
      ['CLINIC_GSTIN', '27AAPFU0939F'],
    ]) {
      it(`refuses ${variable}=${value}, naming it`, () => {
        expect(() => loadConfig({ [variable!]: value })).to.throw(
          ConfigError,
          new RegExp(`^Invalid configuration: ${variable}: `),
        );
      });
    }

    it('names the clinic from the environment, with a GSTIN only when one is set', () => {
      const demo = clinicOf(loadConfig({}));
      expect(demo.gstin).to.equal(null);
      expect(demo.name).to.have.length.above(0);
      expect(demo.address).to.have.length.above(0);
      expect(
        clinicOf(
          loadConfig({
            CLINIC_NAME: 'Sunrise Clinic',
            CLINIC_ADDRESS: '4 Park St, Kolkata',
            CLINIC_GSTIN: '27aapfu0939f1zv',
          }),
        ),
      ).to.deep.equal({ name: 'Sunrise Clinic', address: '4 Park St, Kolkata', gstin: '27AAPFU0939F1ZV' });
    });

    it('requires a SESSION_SECRET of 32 characters or more in production', () => {
      expect(() => loadConfig({ NODE_ENV: 'production' })).to.throw(
        ConfigError,
        /SESSION_SECRET: required in production/,
      );
      expect(() => loadConfig({ NODE_ENV: 'production', SESSION_SECRET: 'short' })).to.throw(
        ConfigError,
        /SESSION_SECRET/,
      );
      const secret = 'k7Qe2m9XvR4tB8nW1zL6pY3sD5fH0jGc';
      expect(loadConfig({ NODE_ENV: 'production', SESSION_SECRET: secret }).keys.session).to.have.length(1);
    });
  });
});
