import { expect } from 'chai';
import { addDays, istDate } from '../../../lib/clock.js';
import { WEEKDAYS } from '../../../lib/scheduling/slot-rules.js';
import type { TestApp } from '../../support/app.js';
import { startApiApp, trackWrites } from '../../support/api-helpers.js';
import { loggedInAdmin } from '../../support/factories.js';
import type { Client } from '../../support/http.js';

// The schedule and appointments pages as forms (no browser): bad input gets the page back with
// messages and a 4xx, and changes nothing; a good form saves once and is audited.
describe('admin schedule and appointments pages: forms under bad input', function () {
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  let admin: Client;

  before(async () => {
    testApp = await startApiApp();
    cleanUp = await trackWrites(testApp.db);
    admin = (await loggedInAdmin(testApp.app, testApp.db)).client;
  });

  after(async () => {
    await cleanUp?.();
    await testApp?.close();
  });

  async function formPost(body: string) {
    const token = await admin.csrf();
    return admin.agent
      .post('/admin/schedule')
      .type('form')
      .set('accept', 'text/html')
      .send(`_csrf=${encodeURIComponent(token)}${body ? `&${body}` : ''}`);
  }

  /** The whole form as the page sends it: the default week unless changed. */
  function scheduleBody(overrides: Record<string, string | null> = {}, extra = ''): string {
    const fields: Record<string, string | null> = { slotMinutes: '15', capacity: '3', addClosedDate: '' };
    for (const day of WEEKDAYS) {
      const open = day !== 'sunday';
      fields[`${day}Open`] = open ? 'on' : null;
      fields[`${day}Opens`] = open ? '09:00' : '';
      fields[`${day}Closes`] = open ? '18:00' : '';
    }
    Object.assign(fields, overrides);
    const pairs = Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== null);
    return [...pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`), extra].filter(Boolean).join('&');
  }

  const state = async () => {
    const schedule = await testApp.db
      .selectFrom('scheduling.schedule')
      .select(['version', 'capacity', 'slot_minutes', 'closed_dates', 'hours'])
      .executeTakeFirstOrThrow();
    const audits = await testApp.db
      .selectFrom('audit.entries')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('type', '=', 'AdminScheduleUpdated')
      .executeTakeFirstOrThrow();
    return { schedule, audits: Number(audits.n) };
  };

  it('shows each field’s problem by the field and in the summary, and changes nothing', async () => {
    const before = await state();
    const yesterday = addDays(istDate(new Date()), -1);
    const cases: [string, string, string[]][] = [
      [
        'closing before opening',
        scheduleBody({ mondayOpens: '18:00', mondayCloses: '09:00' }),
        ['Monday: closing after opening'],
      ],
      [
        'a time off the five-minute marks',
        scheduleBody({ tuesdayOpens: '09:03' }),
        ['Tuesday from: on a five-minute mark'],
      ],
      ['an empty time on an open day', scheduleBody({ fridayCloses: '' }), ['Friday to: a time as HH:MM']],
      [
        'a slot length not a multiple of 5',
        scheduleBody({ slotMinutes: '7' }),
        ['Slot length (minutes): a multiple of 5'],
      ],
      [
        'words for a slot length',
        scheduleBody({ slotMinutes: 'fifteen' }),
        ['Slot length (minutes): a number of minutes'],
      ],
      ['no capacity', scheduleBody({ capacity: '0' }), ['Capacity per slot:']],
      ['a capacity with decimals', scheduleBody({ capacity: '2.5' }), ['Capacity per slot: a whole number']],
      [
        'a closed date that is no date',
        scheduleBody({ addClosedDate: '2026-02-30' }),
        ['Add a closed date: a real date as YYYY-MM-DD'],
      ],
      [
        'a closed date in the past',
        scheduleBody({ addClosedDate: yesterday }),
        ['Add a closed date: today or a later date'],
      ],
      [
        'a day open shorter than a slot',
        scheduleBody({ slotMinutes: '120', saturdayOpens: '09:00', saturdayCloses: '10:00' }),
        ['Saturday: open for at least one slot'],
      ],
      ['an odd checkbox value', scheduleBody({ mondayOpen: 'yes' }), ['Monday:']],
    ];
    for (const [what, body, messages] of cases) {
      const res = await formPost(body);
      expect(res.status, what).to.equal(400);
      expect(res.text, what).to.contain('There is a problem');
      for (const message of messages) expect(res.text, what).to.contain(message);
      expect(res.text, what).to.contain('aria-invalid="true"');
    }
    // The entries are shown back as typed.
    const kept = await formPost(scheduleBody({ slotMinutes: '7', wednesdayCloses: '17:30' }));
    expect(kept.text).to.contain(
      'name="slotMinutes" inputmode="numeric" autocomplete="off" class="narrow" value="7"',
    );
    expect(kept.text).to.contain('value="17:30"');
    expect(await state()).to.deep.equal(before);
  });

  it('refuses doubled and hostile fields before reading them, changing nothing', async () => {
    const before = await state();
    for (const body of [
      scheduleBody({}, 'capacity=4'),
      scheduleBody({ mondayOpens: '09:00\u0000' }),
      scheduleBody({}, 'mondayOpen=on'),
      scheduleBody({}, 'removeClosedDates=%00'),
    ]) {
      const res = await formPost(body);
      expect(res.status, body).to.equal(400);
      expect(res.text, body).to.contain('not allowed');
    }
    const empty = await formPost('');
    expect(empty.status).to.equal(400);
    expect(await state()).to.deep.equal(before);
  });

  it('saves a whole form once, audited, and removes a closed date ticked for removal', async () => {
    const before = await state();
    const holiday = addDays(istDate(new Date()), 30);
    const saved = await formPost(
      scheduleBody({
        capacity: '4',
        sundayOpen: 'on',
        sundayOpens: '10:00',
        sundayCloses: '13:00',
        addClosedDate: holiday,
      }),
    );
    expect(saved.status).to.equal(303);
    expect(saved.headers.location).to.equal('/admin/schedule');
    const page = await admin.agent.get('/admin/schedule').set('accept', 'text/html');
    expect(page.text).to.contain(`Schedule saved (version ${before.schedule.version + 1})`);
    expect(page.text).to.contain(`id="remove-${holiday}"`);
    const after = await state();
    expect(after.audits).to.equal(before.audits + 1);
    expect(after.schedule.capacity).to.equal(4);
    expect(after.schedule.closed_dates).to.deep.equal([holiday]);
    expect((after.schedule.hours as Record<string, unknown>).sunday).to.deep.equal({
      opens: '10:00',
      closes: '13:00',
    });
    // Shown once: a later visit has no saved message.
    expect((await admin.agent.get('/admin/schedule').set('accept', 'text/html')).text).not.to.contain(
      'Schedule saved',
    );

    const removed = await formPost(scheduleBody({}, `removeClosedDates=${holiday}`));
    expect(removed.status).to.equal(303);
    expect((await state()).schedule.closed_dates).to.deep.equal([]);
  });

  it('answers a bad or doubled date on the appointments page with a 400 page, a good one with the day', async () => {
    for (const date of ['2026-02-30', 'tomorrow', '1999-12-31', '3000-01-01', '2026-1-5']) {
      const res = await admin.agent.get(`/admin/appointments?date=${date}`).set('accept', 'text/html');
      expect(res.status, date).to.equal(400);
      expect(res.text, date).to.contain('Date: enter a real date as YYYY-MM-DD');
      expect(res.text, date).not.to.contain('<table');
    }
    const doubled = await admin.agent
      .get('/admin/appointments?date=2026-12-01&date=2026-12-02')
      .set('accept', 'text/html');
    expect(doubled.status).to.equal(400);
    const today = istDate(new Date());
    const page = await admin.agent.get('/admin/appointments').set('accept', 'text/html');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain(`value="${today}"`);
    expect(page.text).to.contain(`href="/admin/appointments?date=${addDays(today, 1)}"`);
    expect(page.text).to.contain(`href="/admin/appointments?date=${addDays(today, -1)}"`);
  });
});
