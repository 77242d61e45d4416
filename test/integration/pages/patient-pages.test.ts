import { expect } from 'chai';
import type { TestApp } from '../../support/app.js';
import { rowCounts, startApiApp, trackWrites } from '../../support/api-helpers.js';
import { buildPatient, buildUser, createService, signedUpPatient } from '../../support/factories.js';
import { Client } from '../../support/http.js';

// The patient pages as forms (no browser): every hostile post gets the form back with messages, a 4xx,
// and writes nothing.
describe('patient pages: forms under bad input', function () {
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  let consult: { id: string; name: string };
  let mammography: { id: string; name: string };

  before(async () => {
    testApp = await startApiApp();
    cleanUp = await trackWrites(testApp.db);
    consult = await createService(testApp.db, { name: 'Forms Consultation', pricePaise: 60_000 });
    mammography = await createService(testApp.db, { name: 'Forms Mammography', gender: 'female' });
  });

  after(async () => {
    await cleanUp?.();
    await testApp?.close();
  });

  /** Posts a urlencoded form body as a browser would (the CSRF token in the `_csrf` field). */
  async function postForm(client: Client, path: string, body: string) {
    const token = await client.csrf();
    return client.agent
      .post(path)
      .type('form')
      .set('accept', 'text/html')
      .send(`_csrf=${encodeURIComponent(token)}${body ? `&${body}` : ''}`);
  }

  const patientForm = (overrides: Record<string, string> = {}) => {
    const fields = { ...buildPatient(), ...overrides } as Record<string, string>;
    return ['name', 'gender', 'dateOfBirth', 'phone', 'email']
      .map((key) => `${key}=${encodeURIComponent(fields[key] ?? '')}`)
      .join('&');
  };

  it('re-renders the Patient info step with a message by each bad field, writing nothing', async () => {
    const { client } = await signedUpPatient(testApp.app);
    const before = await rowCounts(testApp.db);
    const cases: [string, string, string[]][] = [
      [
        'a missing body',
        'step=patient&action=next',
        ['Full name', 'Gender', 'Date of birth', 'Phone', 'Email'],
      ],
      ['an unknown gender', `step=patient&action=next&${patientForm({ gender: 'robot' })}`, ['Gender']],
      [
        'a date of birth before 1900',
        `step=patient&action=next&${patientForm({ dateOfBirth: '1899-12-31' })}`,
        ['Date of birth'],
      ],
      [
        'a date of birth in the future',
        `step=patient&action=next&${patientForm({ dateOfBirth: '2999-01-01' })}`,
        ['Date of birth'],
      ],
      [
        'a date that does not exist',
        `step=patient&action=next&${patientForm({ dateOfBirth: '2023-02-29' })}`,
        ['Date of birth'],
      ],
      ['a short phone number', `step=patient&action=next&${patientForm({ phone: '12345' })}`, ['Phone']],
      ['a bad email', `step=patient&action=next&${patientForm({ email: 'not-an-email' })}`, ['Email']],
    ];
    for (const [name, body, fields] of cases) {
      const res = await postForm(client, '/wizard', body);
      expect(res.status, name).to.equal(400);
      expect(res.type, name).to.equal('text/html');
      expect(res.text, name).to.contain('There is a problem');
      for (const field of fields)
        expect(res.text, `${name}: ${field}`).to.match(new RegExp(`class="field-error"[^>]*>.*${field}:`));
      expect(res.text, name).not.to.match(/\bat .+\.(ts|js):\d+/);
    }
    // Hostile input (a NUL byte, a doubled field) is refused before any route reads it: a 400 page
    // naming the field.
    for (const [name, body] of [
      ['a NUL byte in the name', `step=patient&action=next&${patientForm({ name: 'Asha\u0000' })}`],
      ['a doubled name', `step=patient&action=next&${patientForm()}&name=Second`],
      ['an unknown step', `step=%00&action=next&${patientForm({ phone: '1' })}`],
    ]) {
      const res = await postForm(client, '/wizard', body!);
      expect(res.status, name).to.equal(400);
      expect(res.type, name).to.equal('text/html');
      expect(res.text, name).to.contain('not allowed');
      expect(res.text, name).not.to.match(/\bat .+\.(ts|js):\d+/);
    }
    expect(await rowCounts(testApp.db)).to.deep.equal(before);
  });

  it('keeps the entries of a refused step, and refuses Services without a choice or with a malformed id', async () => {
    const { client } = await signedUpPatient(testApp.app);
    const kept = await postForm(
      client,
      '/wizard',
      `step=patient&action=next&${patientForm({ name: 'Devi <b>Rao</b>', phone: '1' })}`,
    );
    expect(kept.text).to.contain('value="Devi &lt;b&gt;Rao&lt;/b&gt;"');

    expect(
      (await postForm(client, '/wizard', `step=patient&action=next&${patientForm({ gender: 'male' })}`))
        .status,
    ).to.equal(303);
    const before = await rowCounts(testApp.db);
    for (const body of [
      'step=services&action=next',
      'step=services&action=next&serviceIds=1%27%20OR%201%3D1',
    ]) {
      const res = await postForm(client, '/wizard', body);
      expect(res.status, body).to.equal(400);
      expect(res.text, body).to.contain('Services:');
    }
    // A women-only service posted for a man: refused on Summary and at Confirm, nothing written.
    expect(
      (await postForm(client, '/wizard', `step=services&action=next&serviceIds=${mammography.id}`)).status,
    ).to.equal(303);
    const summary = await client.get('/?step=summary').set('accept', 'text/html');
    expect(summary.text).to.contain('Some chosen services cannot be booked.');
    const confirm = await postForm(client, '/wizard/confirm', '');
    expect(confirm.status).to.equal(422);
    expect(await rowCounts(testApp.db)).to.deep.equal(before);
  });

  it('will not confirm past an incomplete step, and books once for a confirm posted twice', async () => {
    const { client } = await signedUpPatient(testApp.app);
    const before = await rowCounts(testApp.db);
    const early = await postForm(client, '/wizard/confirm', '');
    expect(early.status).to.equal(400);
    expect(early.text).to.contain('Who is the visit for?');
    expect(await rowCounts(testApp.db)).to.deep.equal(before);

    await postForm(client, '/wizard', `step=patient&action=next&${patientForm()}`);
    await postForm(client, '/wizard', `step=services&action=next&serviceIds=${consult.id}`);
    const [first, second] = await Promise.all([
      postForm(client, '/wizard/confirm', ''),
      postForm(client, '/wizard/confirm', ''),
    ]);
    expect(first.status).to.equal(303);
    expect(first.headers.location).to.match(/^\/bookings\/[0-9a-f-]{36}$/);
    // The second either answers the same booking or finds the progress already used.
    if (second.status === 303) expect(second.headers.location).to.equal(first.headers.location);
    else expect(second.status).to.equal(400);
    expect((await rowCounts(testApp.db)).bookings).to.equal(before.bookings + 1);
  });

  it('sends anonymous visitors to log in, honouring only same-site next paths', async () => {
    const anonymous = new Client(testApp.app);
    const wizard = await anonymous.get('/?step=services').set('accept', 'text/html');
    expect(wizard.status).to.equal(303);
    expect(wizard.headers.location).to.equal('/login?next=%2F%3Fstep%3Dservices');
    const history = await anonymous.get('/bookings').set('accept', 'text/html');
    expect(history.headers.location).to.equal('/login?next=%2Fbookings');

    const user = buildUser();
    await new Client(testApp.app).signup(user);
    for (const [next, expected] of [
      ['/?step=services', '/?step=services'],
      ['//evil.example/', '/'],
      ['https://evil.example/', '/'],
      ['/\\evil.example', '/'],
    ] as const) {
      const client = new Client(testApp.app);
      const res = await postForm(
        client,
        '/login',
        `email=${encodeURIComponent(user.email)}&password=${encodeURIComponent(user.password)}&next=${encodeURIComponent(next)}`,
      );
      expect(res.status, next).to.equal(303);
      expect(res.headers.location, next).to.equal(expected);
    }
  });

  it('re-renders log-in and sign-up with messages for doubled, missing or hostile fields', async () => {
    const client = new Client(testApp.app);
    const users = await testApp.db
      .selectFrom('identity.users')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    const cases: [string, string, number, string][] = [
      ['/login', '', 400, 'Email: enter your email'],
      // Hostile input is refused before any route reads it: a 400 page naming the field.
      ['/login', 'email=a%40example.com&email=b%40example.com&password=x', 400, 'not allowed'],
      ['/login', 'email=a%00%40example.com&password=x', 400, 'not allowed'],
      ['/signup', '', 400, 'Full name: enter your full name'],
      ['/signup', 'name=A%00&email=a%40example.com&password=long%20enough%20password', 400, 'not allowed'],
      ['/signup', 'name=A&name=B&email=x&password=short', 400, 'not allowed'],
      ['/signup', 'name=A&email=x&password=short', 400, 'Password: use at least 10 characters'],
    ];
    for (const [path, body, status, message] of cases) {
      const res = await postForm(client, path, body);
      expect(res.status, `${path} ${body}`).to.equal(status);
      expect(res.text, `${path} ${body}`).to.contain(message);
    }
    const after = await testApp.db
      .selectFrom('identity.users')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    expect(after.n).to.equal(users.n);
  });

  it('answers another patient’s booking, or an id that is no id, with the 404 page', async () => {
    const owner = await signedUpPatient(testApp.app);
    const res = await owner.client.post('/api/bookings', {
      patient: buildPatient(),
      serviceIds: [consult.id],
    });
    expect(res.status).to.equal(202);
    const other = await signedUpPatient(testApp.app);
    // A NUL byte in the address is refused before any route (400, tested with the hostile input).
    for (const path of [`/bookings/${res.body.booking.id}`, '/bookings/not-an-id']) {
      const page = await other.client.get(path).set('accept', 'text/html');
      expect(page.status, path).to.equal(404);
      expect(page.text, path).to.contain('Page not found');
    }
    const own = await owner.client.get(`/bookings/${res.body.booking.id}`).set('accept', 'text/html');
    expect(own.status).to.equal(200);
    expect(own.headers['cache-control']).to.equal('no-store');
    expect(own.text).to.contain(res.body.booking.reference);
  });
});
