import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { TestApp } from '../../support/app.js';
import { startApiApp, trackWrites, type Answer } from '../../support/api-helpers.js';
import { buildPatient, buildUser, createService } from '../../support/factories.js';
import { Client } from '../../support/http.js';
import { routeTable } from '../../support/routes.js';
import { upsertAdmin } from '../../../lib/identity/user-service.js';

type Role = 'anonymous' | 'patient' | 'otherPatient' | 'admin';
const ROLES: Role[] = ['anonymous', 'patient', 'otherPatient', 'admin'];

interface Fixtures {
  bookingId: string;
  serviceId: string;
  editedServiceId: string;
  deadLetterId: number;
  patient: { email: string; password: string };
}

interface Entry {
  /** The path to request, with the ids of this run (default: the route's own path). */
  path?: (f: Fixtures) => string;
  /** A body the allowed roles succeed with (others must be refused before it is read). */
  body?: (f: Fixtures) => object;
  /** Sent as an HTML form (pages), not JSON. */
  form?: boolean;
  /** The request changes who is logged in: each role gets a client of its own for it. */
  fresh?: boolean;
  expect: Record<Role, number>;
}

const all = (status: number): Record<Role, number> => ({
  anonymous: status,
  patient: status,
  otherPatient: status,
  admin: status,
});
const loggedIn = (status: number, anonymous = 401): Record<Role, number> => ({
  anonymous,
  patient: status,
  otherPatient: status,
  admin: status,
});
const adminOnly = (status: number): Record<Role, number> => ({
  anonymous: 401,
  patient: 403,
  otherPatient: 403,
  admin: status,
});
const adminPage = (status: number): Record<Role, number> => ({
  anonymous: 302,
  patient: 403,
  otherPatient: 403,
  admin: status,
});
/** The patient's own booking: the other patient is told it does not exist. */
const ownerOrAdmin = (status: number): Record<Role, number> => ({
  anonymous: 401,
  patient: status,
  otherPatient: 404,
  admin: status,
});

const service = () => ({
  name: `Matrix service ${randomUUID().slice(0, 8)}`,
  description: 'Made by the access matrix.',
  pricePaise: 10_000,
  gender: 'all',
  active: true,
});

/**
 * Every route of the app, pages and API, with what each kind of visitor gets. A route that is
 * added without an entry here fails the test below: deciding who may use it is part of adding it.
 */
const MATRIX: Record<string, Entry> = {
  'GET /healthz': { expect: all(200) },
  'GET /readyz': { expect: all(200) },
  // Not public: without the bearer token every visitor, admins too, is refused.
  'GET /metrics': { expect: all(401) },
  'GET /api/csrf-token': { expect: all(200) },
  'POST /api/auth/signup': { body: () => buildUser(), fresh: true, expect: all(201) },
  'POST /api/auth/login': { body: (f) => f.patient, fresh: true, expect: all(200) },
  'POST /api/auth/logout': { fresh: true, expect: loggedIn(204) },
  // A wrong current password: the access is what is checked here, not the change.
  'POST /api/auth/password': {
    body: () => ({ currentPassword: 'not the password', newPassword: 'another long password' }),
    expect: loggedIn(400),
  },
  'GET /api/me': { expect: loggedIn(200) },
  'GET /api/services': { expect: all(200) },
  'POST /api/bookings': {
    body: (f) => ({ patient: buildPatient(), serviceIds: [f.serviceId] }),
    expect: { anonymous: 401, patient: 202, otherPatient: 202, admin: 403 },
  },
  'GET /api/bookings': { expect: loggedIn(200) },
  'GET /api/bookings/:id': { path: (f) => `/api/bookings/${f.bookingId}`, expect: ownerOrAdmin(200) },
  'GET /api/bookings/:id/status': {
    path: (f) => `/api/bookings/${f.bookingId}/status`,
    expect: ownerOrAdmin(200),
  },
  'GET /api/admin/config': { expect: adminOnly(200) },
  'PUT /api/admin/config': { body: () => ({ dailyDiscountQuota: 100 }), expect: adminOnly(200) },
  'GET /api/admin/stats': { expect: adminOnly(200) },
  'GET /api/admin/services': { expect: adminOnly(200) },
  'POST /api/admin/services': { body: service, expect: adminOnly(201) },
  'PATCH /api/admin/services/:id': {
    path: (f) => `/api/admin/services/${f.editedServiceId}`,
    body: () => ({ description: 'Edited by the access matrix.' }),
    expect: adminOnly(200),
  },
  'GET /api/admin/bookings': { expect: adminOnly(200) },
  'GET /api/admin/bookings/:id': {
    path: (f) => `/api/admin/bookings/${f.bookingId}`,
    expect: adminOnly(200),
  },
  'GET /api/admin/audit-logs': { expect: adminOnly(200) },
  'GET /api/admin/dead-letters': { expect: adminOnly(200) },
  'POST /api/admin/dead-letters/:id/replay': {
    path: (f) => `/api/admin/dead-letters/${f.deadLetterId}/replay`,
    expect: adminOnly(202),
  },
  'GET /api/slots': { expect: all(200) },
  'POST /api/quote': {
    body: (f) => ({ patient: buildPatient(), serviceIds: [f.serviceId] }),
    expect: loggedIn(200),
  },
  'GET /api/admin/schedule': { expect: adminOnly(200) },
  // An empty change: access is what is checked; the schedule's own tests change it.
  'PUT /api/admin/schedule': { body: () => ({}), expect: adminOnly(400) },
  'GET /api/admin/appointments': { expect: adminOnly(200) },
  'POST /api/admin/dead-letters/replay': { body: () => ({ group: 'no-such-group' }), expect: adminOnly(202) },
  // Pages: a visitor who is not logged in is sent to the login page (302); a patient gets a 403 page.
  'GET /admin': { expect: adminPage(200) },
  'GET /admin/services': { expect: adminPage(200) },
  'POST /admin/services': { form: true, expect: adminPage(400) },
  // A service of its own: an empty edit form is shown again with its errors (nothing saved).
  'POST /admin/services/:id': {
    path: (f) => `/admin/services/${f.editedServiceId}`,
    form: true,
    expect: adminPage(400),
  },
  'GET /admin/discounts': { expect: adminPage(200) },
  'POST /admin/discounts': { form: true, expect: adminPage(400) },
  'GET /admin/bookings': { expect: adminPage(200) },
  'GET /admin/bookings/:id': { path: (f) => `/admin/bookings/${f.bookingId}`, expect: adminPage(200) },
  'GET /admin/schedule': { expect: adminPage(200) },
  // An empty form is refused (every field missing) before anything is saved.
  'POST /admin/schedule': { form: true, expect: adminPage(400) },
  'GET /admin/appointments': { expect: adminPage(200) },
  'GET /admin/logs': { expect: adminPage(200) },
  'GET /admin/dead-letters': { expect: adminPage(200) },
  'POST /admin/dead-letters/replay': { form: true, expect: adminPage(400) },
  'POST /admin/dead-letters/:id/replay': {
    path: () => '/admin/dead-letters/999999999/replay',
    form: true,
    expect: adminPage(404),
  },
  'GET /bookings': { expect: { anonymous: 302, patient: 200, otherPatient: 200, admin: 200 } },
  'GET /bookings/:id': {
    path: (f) => `/bookings/${f.bookingId}`,
    expect: { anonymous: 302, patient: 200, otherPatient: 404, admin: 200 },
  },
  // The same visit booked again at another time: only its own patient's wizard is filled.
  'GET /bookings/:id/book-again': {
    path: (f) => `/bookings/${f.bookingId}/book-again`,
    expect: { anonymous: 303, patient: 303, otherPatient: 404, admin: 403 },
  },
  'POST /wizard': { form: true, expect: { anonymous: 303, patient: 400, otherPatient: 400, admin: 403 } },
  'POST /wizard/confirm': {
    form: true,
    expect: { anonymous: 303, patient: 400, otherPatient: 400, admin: 403 },
  },
  // The fixture booking is still pending: it has no receipt yet and cannot be cancelled.
  'GET /bookings/:id/receipt': {
    path: (f) => `/bookings/${f.bookingId}/receipt`,
    expect: { anonymous: 302, patient: 404, otherPatient: 404, admin: 404 },
  },
  'GET /bookings/:id/receipt.pdf': {
    path: (f) => `/bookings/${f.bookingId}/receipt.pdf`,
    expect: { anonymous: 302, patient: 404, otherPatient: 404, admin: 404 },
  },
  'POST /api/bookings/:id/cancel': {
    path: (f) => `/api/bookings/${f.bookingId}/cancel`,
    body: () => ({ reason: 'Checked by the access matrix.' }),
    expect: { anonymous: 401, patient: 409, otherPatient: 404, admin: 409 },
  },
  'GET /bookings/:id/cancel': {
    path: (f) => `/bookings/${f.bookingId}/cancel`,
    expect: { anonymous: 302, patient: 409, otherPatient: 404, admin: 409 },
  },
  'POST /bookings/:id/cancel': {
    path: (f) => `/bookings/${f.bookingId}/cancel`,
    form: true,
    // An admin must give a reason (the empty form has none): refused before the booking's state.
    expect: { anonymous: 302, patient: 409, otherPatient: 404, admin: 400 },
  },
  // A pending booking cannot be moved either (refused before the new time is looked at).
  'POST /api/bookings/:id/reschedule': {
    path: (f) => `/api/bookings/${f.bookingId}/reschedule`,
    body: () => ({ slotStart: '2030-01-07T10:00:00+05:30', reason: 'Checked by the access matrix.' }),
    expect: { anonymous: 401, patient: 409, otherPatient: 404, admin: 409 },
  },
  'GET /bookings/:id/reschedule': {
    path: (f) => `/bookings/${f.bookingId}/reschedule`,
    expect: { anonymous: 302, patient: 409, otherPatient: 404, admin: 409 },
  },
  'POST /bookings/:id/reschedule': {
    path: (f) => `/bookings/${f.bookingId}/reschedule`,
    form: true,
    // The empty form names no new time: refused once the booking is known to be the user's.
    expect: { anonymous: 302, patient: 400, otherPatient: 404, admin: 400 },
  },
  // Admins cannot book: the wizard tells them to use a patient account.
  'GET /': { expect: { anonymous: 200, patient: 200, otherPatient: 200, admin: 403 } },
  'GET /login': { expect: all(200) },
  'GET /signup': { expect: all(200) },
  'POST /login': { body: (f) => f.patient, form: true, fresh: true, expect: all(303) },
  'POST /signup': { body: () => buildUser(), form: true, fresh: true, expect: all(303) },
  'POST /logout': { form: true, fresh: true, expect: all(303) },
};

const SAFE = new Set(['GET', 'HEAD']);

describe('security: the access matrix, generated from the route table', function () {
  this.timeout(120_000);
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  let fixtures: Fixtures;
  const admin = {
    email: `matrix-admin-${randomUUID().slice(0, 8)}@example.com`,
    password: 'admin password 123',
  };
  const other = buildUser();
  const clients = new Map<Role, Client>();

  before(async () => {
    testApp = await startApiApp();
    cleanUp = await trackWrites(testApp.db);
    const patient = buildUser();
    const owner = new Client(testApp.app);
    await owner.signup(patient);
    await new Client(testApp.app).signup(other);
    await upsertAdmin(testApp.db, { ...admin, name: 'Matrix admin' });
    const { id: serviceId } = await createService(testApp.db);
    const booked = await owner.post('/api/bookings', { patient: buildPatient(), serviceIds: [serviceId] });
    expect(booked.status, booked.text).to.equal(202);
    const letter = await testApp.db
      .insertInto('bus.dead_letters')
      .values({
        stream: 'config',
        entry_id: `${Date.now()}-7`,
        consumer_group: 'access-matrix',
        event_id: randomUUID(),
        type: 'ConfigChanged',
        payload: JSON.stringify({ type: 'ConfigChanged' }),
        error: 'made by the access matrix',
        deliveries: 5,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    fixtures = {
      bookingId: (booked.body as { booking: { id: string } }).booking.id,
      serviceId,
      editedServiceId: (await createService(testApp.db)).id,
      deadLetterId: letter.id,
      patient,
    };
  });
  after(async () => {
    await cleanUp?.();
    await testApp?.close();
  });

  async function clientFor(role: Role, fresh: boolean): Promise<Client> {
    const cached = clients.get(role);
    if (cached && !fresh) return cached;
    const client = new Client(testApp.app);
    if (role === 'patient') await client.login(fixtures.patient);
    if (role === 'otherPatient') await client.login(other);
    if (role === 'admin') await client.login(admin);
    if (!fresh) clients.set(role, client);
    return client;
  }

  async function send(client: Client, method: string, path: string, entry: Entry): Promise<Answer> {
    const body = entry.body?.(fixtures);
    if (SAFE.has(method)) return client.get(path);
    const token = await client.csrf();
    const request = client.agent[method.toLowerCase() as 'post' | 'put' | 'patch'](path).set(
      'x-csrf-token',
      token,
    );
    if (entry.form) return request.type('form').send({ _csrf: token, ...body });
    return body === undefined ? request : request.send(body);
  }

  it('has an entry for every route, and a route for every entry', () => {
    const routes = routeTable(testApp.app);
    const missing = routes.filter((route) => !(route in MATRIX));
    const stale = Object.keys(MATRIX).filter((route) => !routes.includes(route));
    expect(missing, 'routes without an access-matrix entry').to.deep.equal([]);
    expect(stale, 'entries for routes that no longer exist').to.deep.equal([]);
  });

  it('answers each route to each visitor as the matrix says, no-store, errors in the JSON shape on /api', async () => {
    const mismatches: string[] = [];
    for (const route of routeTable(testApp.app)) {
      const entry = MATRIX[route];
      if (!entry) continue;
      const [method = 'GET', routePath = '/'] = route.split(' ');
      const path = entry.path?.(fixtures) ?? routePath;
      for (const role of ROLES) {
        const res = await send(await clientFor(role, entry.fresh ?? false), method, path, entry);
        const expected = entry.expect[role];
        if (res.status !== expected)
          mismatches.push(
            `${route} as ${role}: ${res.status}, expected ${expected}: ${res.text.slice(0, 200)}`,
          );
        if (
          !['/healthz', '/readyz', '/metrics'].includes(path) &&
          res.headers['cache-control'] !== 'no-store'
        )
          mismatches.push(`${route} as ${role}: Cache-Control ${String(res.headers['cache-control'])}`);
        if (path.startsWith('/api/') && res.status >= 400) {
          const error = (res.body as { error?: { code?: unknown; message?: unknown } }).error;
          if (typeof error?.code !== 'string' || typeof error.message !== 'string')
            mismatches.push(`${route} as ${role}: ${res.status} without the error shape`);
        }
      }
    }
    expect(mismatches).to.deep.equal([]);
  });
});
