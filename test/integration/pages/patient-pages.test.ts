import { expect } from 'chai';
import type { TestApp } from '../../support/app.js';
import { rowCounts, startApiApp, trackWrites } from '../../support/api-helpers.js';
import { buildPatient, buildUser, createService, signedUpPatient } from '../../support/factories.js';
import { Client } from '../../support/http.js';
import { freeSlots } from '../../support/saga-helpers.js';

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
    const [slot] = await freeSlots(client, 1);
    expect(
      (
        await postForm(
          client,
          '/wizard',
          `step=time&action=next&slotStart=${encodeURIComponent(slot!.start)}`,
        )
      ).status,
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
    const noTime = await postForm(client, '/wizard/confirm', '');
    expect(noTime.status).to.equal(400);
    expect(noTime.text).to.contain('Date &amp; time: choose a free time for the visit');
    const [slot] = await freeSlots(client, 1);
    await postForm(client, '/wizard', `step=time&action=next&slotStart=${encodeURIComponent(slot!.start)}`);
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

  it('refuses a Date & time that is missing, malformed, no slot or too soon, keeping the other entries', async () => {
    const { client } = await signedUpPatient(testApp.app);
    await postForm(client, '/wizard', `step=patient&action=next&${patientForm({ name: 'Kavya Iyer' })}`);
    await postForm(client, '/wizard', `step=services&action=next&serviceIds=${consult.id}`);
    const before = await rowCounts(testApp.db);
    for (const body of [
      'step=time&action=next',
      'step=time&action=next&slotStart=tomorrow',
      'step=time&action=next&slotStart=2026-13-40T09%3A00%3A00%2B05%3A30',
    ]) {
      const res = await postForm(client, '/wizard', body);
      expect(res.status, body).to.equal(400);
      expect(res.text, body).to.contain('Date &amp; time: choose a free time for the visit');
      expect(res.text, body).to.contain('Choose a date and time');
    }
    // Well formed but not a bookable slot: the step takes it, the booking refuses it (422) with the
    // reason beside the picker, and nothing is written.
    const [slot] = await freeSlots(client, 1);
    const offGrid = new Date(new Date(slot!.start).getTime() + 7 * 60_000).toISOString();
    const soon = new Date(Date.now() + 10 * 60_000).toISOString();
    for (const start of [offGrid, soon]) {
      await postForm(client, '/wizard', `step=time&action=next&slotStart=${encodeURIComponent(start)}`);
      const confirm = await postForm(client, '/wizard/confirm', '');
      expect(confirm.status, start).to.equal(422);
      expect(confirm.text, start).to.contain('Date &amp; time: that time cannot be booked');
      expect(confirm.text, start).to.contain('value="Kavya Iyer"');
    }
    expect(await rowCounts(testApp.db)).to.deep.equal(before);
    // A day that is no date, or out of the list, shows the default day instead.
    for (const day of ['x', '1999-01-01', '2026-02-30', '2999-01-01']) {
      const page = await client.get(`/?step=time&day=${day}`).set('accept', 'text/html');
      expect(page.status, day).to.equal(200);
      expect(page.text.match(/aria-current="true"/g), day).to.have.length(1);
    }
    expect((await client.get('/?step=time&day=%00').set('accept', 'text/html')).status).to.equal(400);
  });

  it('books the same visit again at another time: the entries kept, only for the booking’s own patient', async () => {
    const owner = await signedUpPatient(testApp.app);
    const patient = buildPatient({ name: 'Meera Pillai', gender: 'female' });
    const res = await owner.client.post('/api/bookings', { patient, serviceIds: [consult.id] });
    expect(res.status).to.equal(202);
    const id = res.body.booking.id as string;
    const other = await signedUpPatient(testApp.app);
    for (const path of [`/bookings/${id}/book-again`, '/bookings/not-an-id/book-again']) {
      const page = await other.client.get(path).set('accept', 'text/html');
      expect(page.status, path).to.equal(404);
      expect(page.text, path).to.contain('Page not found');
    }
    const anonymous = await new Client(testApp.app)
      .get(`/bookings/${id}/book-again`)
      .set('accept', 'text/html');
    expect(anonymous.status).to.equal(303);
    expect(anonymous.headers.location).to.match(/^\/login\?next=/);
    // The other patient's wizard is untouched.
    expect((await other.client.get('/?step=patient').set('accept', 'text/html')).text).not.to.contain(
      'Meera Pillai',
    );

    const again = await owner.client.get(`/bookings/${id}/book-again`).set('accept', 'text/html');
    expect(again.status).to.equal(303);
    expect(again.headers.location).to.equal('/?step=time');
    const time = await owner.client.get('/?step=time').set('accept', 'text/html');
    expect(time.status).to.equal(200);
    expect(time.text).to.contain('data-fresh="true"');
    expect(time.text).to.contain('value="Meera Pillai"');
    expect(time.text).to.match(new RegExp(`value="${consult.id}"[^>]*checked`));
    expect(time.text).to.contain(
      'aria-current="step"><span class="steps__number" aria-hidden="true">3</span> Date &amp; time',
    );
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
