import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { sql } from 'kysely';
import type { TestApp } from '../../support/app.js';
import { quietly, startApiApp, trackWrites, type Answer } from '../../support/api-helpers.js';
import { buildUser } from '../../support/factories.js';
import { Client, serve } from '../../support/http.js';
import { routeTable } from '../../support/routes.js';
import { upsertAdmin } from '../../../lib/identity/user-service.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 20);
const STACK_LINE = /\bat .+\.(ts|js|mjs):\d+/;

// Strings an attacker tries first: none of them is a valid value for any field of the app.
const hostileString = fc.oneof(
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udfffy',
    '\u001b[31m',
    '-010000-01-01',
    '+275760-09-13',
    '0000-00-00',
    '2023-02-29',
    '9999999999999999999999',
    '1e309',
    'NaN',
    "'; DROP TABLE identity.users; --",
    '<script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    '__proto__',
    'constructor',
    '../../etc/passwd',
    '%00',
    '${7*7}',
    '<%= process.env %>',
    '',
    ' ',
    'x'.repeat(5_000),
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const hostileNumber = fc.constantFrom(-1, -0.001, 100.001, 1e21, 2 ** 31, 2 ** 53 + 1);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.constant(null),
  fc.constantFrom({}, [], [[[]]]),
  fc.array(hostileString, { maxLength: 3 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
);
// Every field name a route reads, and a few no route reads.
const FIELDS = [
  'email',
  'password',
  'name',
  'remember',
  'next',
  'currentPassword',
  'newPassword',
  'patient',
  'serviceIds',
  'slotStart',
  'description',
  'pricePaise',
  'gender',
  'active',
  'discountPercent',
  'dailyDiscountQuota',
  'paymentSimulationMode',
  'paymentFailureRate',
  'reason',
  'status',
  'q',
  'from',
  'to',
  'limit',
  '__proto__',
  'constructor',
];
const shapedBody = fc.dictionary(fc.constantFrom(...FIELDS), hostileValue, { maxKeys: 6 });
const patientBody = fc.record({
  patient: fc.record({
    name: hostileValue,
    gender: hostileValue,
    dateOfBirth: hostileValue,
    phone: hostileValue,
    email: hostileValue,
  }),
  serviceIds: fc.oneof(fc.array(fc.uuid(), { maxLength: 3 }), hostileValue),
});
const jsonBody = fc.oneof(shapedBody, patientBody, fc.jsonValue({ maxDepth: 3 }));

/** Percent-encodes the UTF-8 of a string (a lone surrogate becomes U+FFFD, as a browser sends it). */
const encode = (text: string) =>
  [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9_.~-]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).padStart(2, '0')}`,
    )
    .join('');
// Not "0": a form's discount percent or quota of 0 is a valid change, and nothing here may be valid.
const rawEncoded = fc.oneof(
  hostileString.map(encode),
  fc.constantFrom(
    '%00',
    '%ED%A0%80',
    '%C0%80',
    '%',
    '%zz',
    '%E0%A4',
    '..%2F..%2F',
    '-1',
    '0x10',
    '99999999999999999999',
  ),
  fc.uuid(),
);
// A small whole number could name a real row (a dead letter): ids are fuzzed with everything else.
const hostileId = rawEncoded.filter((id) => !/^[1-9]\d{0,15}$/.test(id));
/** A form or query: fields repeated, hostile names and values, as raw text. */
const formText = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), hostileString.map(encode)), rawEncoded), {
    maxLength: 6,
  })
  .chain((pairs) =>
    fc
      .boolean()
      .map((double) => [...pairs, ...(double && pairs[0] ? [pairs[0]] : [])])
      .map((all) => all.map(([key, value]) => `${key}=${value}`).join('&')),
  );

type Request =
  { kind: 'json'; body: unknown } | { kind: 'raw'; type: string; text: string } | { kind: 'none' };
const request: fc.Arbitrary<Request> = fc.oneof(
  jsonBody.map((body) => ({ kind: 'json' as const, body })),
  formText.map((text) => ({ kind: 'raw' as const, type: 'application/x-www-form-urlencoded', text })),
  fc.constantFrom(
    { kind: 'raw' as const, type: 'application/json', text: '{"email": ' },
    { kind: 'raw' as const, type: 'application/json', text: '"just a string"' },
    { kind: 'raw' as const, type: 'text/plain', text: 'email=a@b.c&password=secret' },
    { kind: 'raw' as const, type: 'application/xml', text: '<email>a@b.c</email>' },
    { kind: 'raw' as const, type: 'multipart/form-data; boundary=x', text: '--x\r\n\r\n--x--' },
    { kind: 'none' as const },
  ),
);

/** Each route with its path parameters replaced by hostile ids, and a hostile query string. */
const target = (route: string) =>
  fc.tuple(hostileId, formText).map(([id, query]) => {
    const [method = 'GET', path = '/'] = route.split(' ');
    return { method, path: `${path.replace(/:\w+/g, id)}${query ? `?${query}` : ''}` };
  });

// Logging out or in, or signing up, moves the fuzzing client's session: those get a new client each time.
const SESSION_MOVING = /^(POST \/api\/auth\/(login|logout|signup)|POST \/(login|logout|signup))$/;

describe('security: fuzzing every route with hostile input (fast-check)', function () {
  this.timeout(300_000);
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  const admin = {
    email: `fuzz-admin-${randomUUID().slice(0, 8)}@example.com`,
    password: 'admin password 123',
  };
  const patient = buildUser();
  let clients: { patient: Client; admin: Client };
  // Through the web's own HTTP server: what Node's parser refuses (a URL over its limit) is answered too.
  let web: Awaited<ReturnType<typeof serve>>;

  before(async () => {
    testApp = await startApiApp();
    web = await serve(testApp.app);
    cleanUp = await trackWrites(testApp.db);
    await upsertAdmin(testApp.db, { ...admin, name: 'Fuzz admin' });
    const patientClient = new Client(web.url);
    await patientClient.signup(patient);
    const adminClient = new Client(web.url);
    await adminClient.login(admin);
    clients = { patient: patientClient, admin: adminClient };
  });
  after(async () => {
    await cleanUp?.();
    await web?.close();
    await testApp?.close();
  });

  /** What a refused request must leave as it was (security events in the audit trail may be added). */
  async function snapshot(): Promise<string> {
    const { rows } = await sql<Record<string, unknown>>`
      SELECT (SELECT count(*) FROM identity.users) AS users,
             (SELECT max(session_version) FROM identity.users) AS sessions,
             (SELECT count(*) FROM booking.bookings) AS bookings,
             (SELECT count(*) FROM bus.outbox) AS outbox,
             (SELECT count(*) FROM catalogue.services) AS services,
             (SELECT max(updated_at) FROM catalogue.services) AS services_updated,
             (SELECT version FROM settings.config) AS settings,
             (SELECT count(*) FROM bus.dead_letters WHERE replayed_at IS NOT NULL) AS replayed`.execute(
      testApp.db,
    );
    return JSON.stringify(rows[0]);
  }

  async function send(client: Client, method: string, path: string, input: Request): Promise<Answer> {
    const token = await client.csrf();
    const verb = method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    let call = client.agent[verb](path).set('x-csrf-token', token);
    if (input.kind === 'json')
      call = call.set('Content-Type', 'application/json').send(JSON.stringify(input.body));
    if (input.kind === 'raw') call = call.set('Content-Type', input.type).send(input.text);
    return call;
  }

  function problemsOf(res: Answer, path: string): string[] {
    const problems: string[] = [];
    if (res.status >= 500) problems.push(`${res.status}: ${res.text.slice(0, 300)}`);
    if (STACK_LINE.test(res.text)) problems.push('a stack trace in the answer');
    if (path.startsWith('/api/') && res.status >= 400) {
      const error = (res.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      const keys = Object.keys((res.body as object | undefined) ?? {});
      if (typeof error?.code !== 'string' || typeof error.message !== 'string' || keys.join() !== 'error')
        problems.push(`${res.status} without the JSON error shape: ${res.text.slice(0, 200)}`);
    }
    return problems;
  }

  it('covers every route of the app', () => {
    expect(routeTable(testApp.app).length).to.be.above(20);
  });

  for (const role of ['patient', 'admin'] as const) {
    it(`as ${role === 'patient' ? 'a patient' : 'an admin'}: no 5xx, the error shape on /api, nothing written`, async () => {
      const failures: string[] = [];
      for (const route of routeTable(testApp.app)) {
        const before = await snapshot();
        await quietly(() =>
          fc.assert(
            fc.asyncProperty(target(route), request, async ({ method, path }, input) => {
              const client = SESSION_MOVING.test(route)
                ? await (async () => {
                    const fresh = new Client(web.url);
                    await fresh.login(role === 'admin' ? admin : patient);
                    return fresh;
                  })()
                : clients[role];
              const res = await send(client, method, path, input);
              const problems = problemsOf(res, path);
              if (problems.length > 0) {
                failures.push(
                  `${method} ${path.slice(0, 100)} ${JSON.stringify(input).slice(0, 100)}: ${problems.join('; ').slice(0, 300)}`,
                );
                return false;
              }
              return true;
            }),
            { numRuns: RUNS },
          ),
        ).catch(() => {});
        const after = await snapshot();
        if (after !== before) failures.push(`${route} wrote: ${before} → ${after}`);
      }
      expect(failures).to.deep.equal([]);
    });
  }
});
