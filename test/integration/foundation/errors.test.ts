import path from 'node:path';
import { expect } from 'chai';
import express from 'express';
import supertest from 'supertest';
import { projectRoot } from '../../../lib/paths.js';
import { errorHandler } from '../../../server/middleware/errors.js';
import type { TestApp } from '../../support/app.js';
import { expectError, quietly, startApiApp } from '../../support/api-helpers.js';
import { Client } from '../../support/http.js';

const STACK_LINE = /\bat .+\.(ts|js|mjs):\d+/;

describe('errors: one shape for the API, a page for browsers, never a stack trace', function () {
  let testApp: TestApp;

  before(async () => {
    testApp = await startApiApp();
  });

  after(async () => {
    await testApp?.close();
  });

  it('answers an unknown /api path with a 404 in the JSON error shape', async () => {
    expectError(await supertest(testApp.app).get('/api/no-such-thing'), 404, 'not_found');
    expectError(
      await supertest(testApp.app).get('/api/no-such-thing').set('Accept', 'text/html'),
      404,
      'not_found',
    );
    expectError(await new Client(testApp.app).post('/api/no-such-thing', { a: 1 }), 404, 'not_found');
  });

  it('answers an unknown page with a 404 HTML page, and a JSON client with JSON', async () => {
    const res = await supertest(testApp.app).get('/no-such-page').set('Accept', 'text/html').expect(404);

    expect(res.headers['content-type']).to.match(/^text\/html/);
    expect(res.text).to.include('Page not found');
    expect(res.text).not.to.match(STACK_LINE);
    expect(res.text).not.to.include('NotFoundError');
    expectError(
      await supertest(testApp.app).get('/no-such-page').set('Accept', 'application/json'),
      404,
      'not_found',
    );
  });

  it('answers a malformed JSON body with 400 malformed_json', async () => {
    const client = new Client(testApp.app);
    const token = await client.csrf();

    const res = await client.agent
      .post('/api/auth/login')
      .set('x-csrf-token', token)
      .set('Content-Type', 'application/json')
      .send('{"email": "a@b.c", ');

    expectError(res, 400, 'malformed_json');
  });

  it('answers a malformed body sent to a page with a 400 page, not a stack trace', async () => {
    const res = await supertest(testApp.app)
      .post('/login')
      .set('Accept', 'text/html')
      .set('Content-Type', 'application/json')
      .send('{"email": ');

    expect(res.status, res.text).to.equal(400);
    expect(res.headers['content-type']).to.match(/^text\/html/);
    expect(res.text).to.include('not valid JSON');
    expect(res.text).not.to.match(STACK_LINE);
  });

  it('answers a body over the limit with 413 in the error shape', async () => {
    const client = new Client(testApp.app);
    const token = await client.csrf();
    const res = await client.agent
      .post('/api/auth/login')
      .set('x-csrf-token', token)
      .send({ email: 'a@b.c', password: 'x'.repeat(40_000) });
    expectError(res, 413, 'payload_too_large');
  });

  describe('an unexpected error inside a route', function () {
    const secret = 'connection to db-primary.internal failed for user clinic_owner';
    let app: express.Express;

    before(() => {
      // The exported error handler behind routes that fail the way a bug would.
      app = express();
      app.set('views', path.join(projectRoot, 'views'));
      app.set('view engine', 'ejs');
      const fail = () => {
        throw new TypeError(secret);
      };
      app.get('/api/boom', fail);
      app.get('/api/boom-later', async () => {
        await Promise.resolve();
        fail();
      });
      app.get('/boom', fail);
      app.use(errorHandler);
    });

    for (const route of ['/api/boom', '/api/boom-later']) {
      it(`answers ${route} with 500 {error:{code:'internal'}}, no stack, no detail`, async () => {
        const res = await quietly(() => supertest(app).get(route));

        const error = expectError(res, 500, 'internal');
        expect(error).not.to.have.property('details');
        expect(res.text).not.to.include(secret);
        expect(res.text).not.to.include('TypeError');
      });
    }

    it('renders a 500 page for a browser, no stack, no detail', async () => {
      const res = await quietly(() => supertest(app).get('/boom').set('Accept', 'text/html'));

      expect(res.status).to.equal(500);
      expect(res.headers['content-type']).to.match(/^text\/html/);
      expect(res.text).to.include('Something went wrong');
      expect(res.text).not.to.include(secret);
      expect(res.text).not.to.match(STACK_LINE);
    });
  });
});
