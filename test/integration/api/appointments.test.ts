import { expect } from 'chai';
import { sql } from 'kysely';
import { fixedClock } from '../../../lib/clock.js';
import type { TestApp } from '../../support/app.js';
import { expectError, rowCounts, startApiApp, trackWrites } from '../../support/api-helpers.js';
import { buildPatient, createService, loggedInAdmin, signedUpPatient } from '../../support/factories.js';
import { Client } from '../../support/http.js';

// Monday 2 March 2026, 08:30 IST: the 09:00 and 09:15 slots start within the hour, 09:30 is the first offered.
const NOW = '2026-03-02T03:00:00Z';

interface SlotView {
  start: string;
  end: string;
  capacity: number;
  available: number;
}

describe('API: slots, the schedule and appointments', function () {
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  let patient: { client: Client; user: { id: string } };
  let admin: { client: Client };
  let service: { id: string };

  before(async () => {
    testApp = await startApiApp({ clock: fixedClock(NOW) });
    cleanUp = await trackWrites(testApp.db);
    patient = await signedUpPatient(testApp.app);
    admin = await loggedInAdmin(testApp.app, testApp.db);
    service = await createService(testApp.db, { pricePaise: 45_000 });
  });

  after(async () => {
    await testApp?.db.deleteFrom('scheduling.slots').where('start', '<', new Date('2026-04-01')).execute();
    await cleanUp?.();
    await testApp?.close();
  });

  const slots = async (query: string): Promise<SlotView[]> => {
    const res = await new Client(testApp.app).get(`/api/slots${query}`);
    expect(res.status, res.text).to.equal(200);
    return (res.body as { slots: SlotView[] }).slots;
  };
  const holdPlaces = (start: string, held: number) =>
    testApp.db
      .insertInto('scheduling.slots')
      .values({ start: new Date(start), held })
      .onConflict((conflict) => conflict.column('start').doUpdateSet({ held }))
      .execute();
  const putSchedule = (body: unknown) => admin.client.put('/api/admin/schedule', body as object);

  describe('GET /api/slots', () => {
    it('lists the next 14 IST days from today by default, in +05:30, from an hour ahead, none on Sundays', async () => {
      const listed = await slots('');
      // 12 open days of 36 slots, less 09:00 and 09:15 today.
      expect(listed).to.have.length(12 * 36 - 2);
      expect(listed[0]).to.deep.equal({
        start: '2026-03-02T09:30:00+05:30',
        end: '2026-03-02T09:45:00+05:30',
        capacity: 3,
        available: 3,
      });
      expect(listed.at(-1)?.start).to.equal('2026-03-14T17:45:00+05:30');
      expect(listed.some((slot) => slot.start.startsWith('2026-03-08'))).to.equal(false);
      expect(listed.every((slot) => slot.start.endsWith('+05:30') && slot.end.endsWith('+05:30'))).to.equal(
        true,
      );
      const starts = listed.map((slot) => Date.parse(slot.start));
      expect(starts).to.deep.equal([...starts].sort((a, b) => a - b));
    });

    it('runs across a year end', async () => {
      const listed = await slots('?from=2026-12-31&days=2');
      expect(listed).to.have.length(72);
      expect(listed[35]?.start).to.equal('2026-12-31T17:45:00+05:30');
      expect(listed[36]?.start).to.equal('2027-01-01T09:00:00+05:30');
    });

    it('counts the places held, and shows a full slot as full (also one held over a lowered capacity)', async () => {
      await holdPlaces('2026-03-03T10:00:00+05:30', 2);
      await holdPlaces('2026-03-03T10:15:00+05:30', 3);
      await holdPlaces('2026-03-03T10:30:00+05:30', 5);
      const listed = await slots('?from=2026-03-03&days=1');
      const at = (time: string) => listed.find((slot) => slot.start === `2026-03-03T${time}:00+05:30`);
      expect(at('10:00')).to.include({ capacity: 3, available: 1 });
      expect(at('10:15')).to.include({ available: 0 });
      expect(at('10:30')).to.include({ available: 0 });
      expect(at('10:45')).to.include({ available: 3 });
    });

    it('answers 400 to a bad date or number of days', async () => {
      const bad = [
        '?from=2026-02-30',
        '?from=20260302',
        '?from=2026-03-02%00',
        '?from=2028-06-01',
        '?from=1999-12-31',
        '?days=0',
        '?days=32',
        '?days=1.5',
        '?days=many',
        '?days=1&days=2',
        '?from=2026-03-02&from=2026-03-03',
      ];
      for (const query of bad) {
        const res = await new Client(testApp.app).get(`/api/slots${query}`);
        expectError(res, 400, 'validation_failed');
      }
    });
  });

  describe('GET, PUT /api/admin/schedule', () => {
    it('shows the default schedule to an admin and refuses patients and visitors', async () => {
      const res = await admin.client.get('/api/admin/schedule');
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.include({
        slotMinutes: 15,
        capacity: 3,
        closedDates: [],
        hours: {
          monday: { opens: '09:00', closes: '18:00' },
          tuesday: { opens: '09:00', closes: '18:00' },
          wednesday: { opens: '09:00', closes: '18:00' },
          thursday: { opens: '09:00', closes: '18:00' },
          friday: { opens: '09:00', closes: '18:00' },
          saturday: { opens: '09:00', closes: '18:00' },
          sunday: null,
        },
      });
      expect(res.body.version).to.be.a('number');
      expectError(await patient.client.get('/api/admin/schedule'), 403);
      expectError(await new Client(testApp.app).get('/api/admin/schedule'), 401);
      expectError(await patient.client.put('/api/admin/schedule', { capacity: 1 }), 403);
    });

    it('saves a change with a new version, audits it, emits ScheduleChanged, and the slots follow', async () => {
      const before = (await admin.client.get('/api/admin/schedule')).body;
      const res = await putSchedule({
        capacity: 2,
        closedDates: ['2026-03-04'],
        hours: { sunday: { opens: '10:00', closes: '12:00' } },
      });
      try {
        expect(res.status, res.text).to.equal(200);
        expect(res.body).to.deep.include({
          capacity: 2,
          closedDates: ['2026-03-04'],
          version: before.version + 1,
        });
        expect(res.body.hours.monday).to.deep.equal({ opens: '09:00', closes: '18:00' });

        const listed = await slots('?from=2026-03-04&days=5');
        expect(listed.some((slot) => slot.start.startsWith('2026-03-04'))).to.equal(false);
        expect(listed.filter((slot) => slot.start.startsWith('2026-03-08'))).to.have.length(8);
        expect(listed.every((slot) => slot.capacity === 2)).to.equal(true);

        const [audit] = await testApp.db
          .selectFrom('audit.entries')
          .selectAll()
          .where('type', '=', 'AdminScheduleUpdated')
          .orderBy('id', 'desc')
          .limit(1)
          .execute();
        expect(audit?.actor).to.equal((await admin.client.get('/api/me')).body.user.email);
        const data = audit?.data as { before: { capacity: number }; after: { capacity: number } };
        expect([data.before.capacity, data.after.capacity]).to.deep.equal([3, 2]);
        const [event] = await testApp.db
          .selectFrom('bus.outbox')
          .select(['stream', 'payload'])
          .where(sql<string>`payload->>'type'`, '=', 'ScheduleChanged')
          .orderBy('id', 'desc')
          .limit(1)
          .execute();
        expect(event?.stream).to.equal('config');
        expect((event?.payload as { data: Record<string, unknown> }).data).to.deep.include({
          scheduleVersion: before.version + 1,
          actor: audit?.actor,
        });
      } finally {
        const { hours, slotMinutes, capacity, closedDates } = before;
        expect((await putSchedule({ hours, slotMinutes, capacity, closedDates })).status).to.equal(200);
      }
    });

    it('tells the admin about places held above a lowered capacity (they stay)', async () => {
      await holdPlaces('2026-03-05T11:00:00+05:30', 3);
      const res = await putSchedule({ capacity: 2 });
      try {
        expect(res.status, res.text).to.equal(200);
        expect(res.body.notices).to.have.length(1);
        expect(res.body.notices[0]).to.match(/more patients than the new capacity/);
        const [slot] = await testApp.db
          .selectFrom('scheduling.slots')
          .select('held')
          .where('start', '=', new Date('2026-03-05T11:00:00+05:30'))
          .execute();
        expect(slot?.held).to.equal(3);
      } finally {
        await putSchedule({ capacity: 3 });
      }
    });

    it('answers 400 to a change that does not fit, and writes nothing', async () => {
      const before = (await admin.client.get('/api/admin/schedule')).body;
      const audits = async () =>
        Number(
          (
            await testApp.db
              .selectFrom('audit.entries')
              .select((eb) => eb.fn.countAll<string>().as('n'))
              // Every admin request is on the security trail (AdminAction, with its status); a refused
              // change writes nothing else.
              .where('type', '!=', 'AdminAction')
              .executeTakeFirstOrThrow()
          ).n,
        );
      const auditsBefore = await audits();
      const outboxBefore = (await rowCounts(testApp.db)).outbox;
      const bad: unknown[] = [
        {},
        [],
        { capacity: 0 },
        { capacity: '2' },
        { capacity: [2, 3] },
        { slotMinutes: 7 },
        { slotMinutes: 600 },
        { hours: { monday: { opens: '18:00', closes: '09:00' } } },
        { hours: { monday: { opens: '09:00\u0000', closes: '18:00' } } },
        { hours: { funday: { opens: '09:00', closes: '18:00' } } },
        { hours: { monday: { opens: '09:00', closes: '09:10' } } },
        { slotMinutes: 240, hours: { monday: { opens: '09:00', closes: '12:00' } } },
        { closedDates: ['2026-02-30'] },
        { closedDates: '2026-03-04' },
      ];
      for (const body of bad) expectError(await putSchedule(body), 400, 'validation_failed');
      const missing = await admin.client.agent
        .put('/api/admin/schedule')
        .set('x-csrf-token', await admin.client.csrf())
        .set('content-type', 'application/json');
      expectError(missing, 400);
      expect((await admin.client.get('/api/admin/schedule')).body.version).to.equal(before.version);
      expect(await audits()).to.equal(auditsBefore);
      expect((await rowCounts(testApp.db)).outbox).to.equal(outboxBefore);
    });
  });

  describe('POST /api/bookings with a slotStart', () => {
    const book = (body: object, headers?: Record<string, string>) =>
      patient.client.post(
        '/api/bookings',
        { patient: buildPatient(), serviceIds: [service.id], ...body },
        headers,
      );

    it('accepts a slot start in any offset, stores it, and shows the appointment in IST', async () => {
      const res = await book({ slotStart: '2026-03-03T04:30:00Z' });
      expect(res.status, res.text).to.equal(202);
      const { id } = res.body.booking;
      const [event] = await testApp.db
        .selectFrom('bus.outbox')
        .select('payload')
        .where(sql<string>`payload->>'bookingId'`, '=', id)
        .execute();
      expect((event?.payload as { data: { slotStart: string } }).data.slotStart).to.equal(
        '2026-03-03T10:00:00+05:30',
      );
      const view = await patient.client.get(`/api/bookings/${id}/status`);
      expect(view.body.booking.appointment).to.deep.equal({
        start: '2026-03-03T10:00:00+05:30',
        end: '2026-03-03T10:15:00+05:30',
      });
    });

    it('shows a walk-in booked without a slot with no appointment', async () => {
      const res = await book({});
      expect(res.status, res.text).to.equal(202);
      const view = await patient.client.get(`/api/bookings/${res.body.booking.id}/status`);
      expect(view.body.booking.appointment).to.equal(null);
    });

    it('refuses at once a start that is no slot, too soon, past, on a closed day or too far ahead, and writes nothing', async () => {
      const refused: [string, number][] = [
        ['2026-03-02T09:07:00+05:30', 422],
        ['2026-03-02T18:00:00+05:30', 422],
        ['2026-03-02T09:15:00+05:30', 422],
        ['2026-02-27T10:00:00+05:30', 422],
        ['2026-03-08T10:00:00+05:30', 422],
        ['2027-03-08T10:00:00+05:30', 422],
        ['2026-03-03T10:00:00', 400],
        ['2026-02-30T10:00:00+05:30', 400],
        ['tomorrow at ten', 400],
        ['2026-03-03T10:00:00+05:30\u0000', 400],
      ];
      const before = await rowCounts(testApp.db);
      for (const [slotStart, status] of refused) {
        const error = expectError(await book({ slotStart }), status);
        expect(JSON.stringify(error.details), slotStart).to.include('slotStart');
      }
      for (const slotStart of [12345, ['2026-03-03T10:00:00+05:30', '2026-03-03T10:15:00+05:30'], {}])
        expectError(await book({ slotStart }), 400, 'validation_failed');
      expect(await rowCounts(testApp.db)).to.deep.equal(before);
    });

    it('treats another slot under the same Idempotency-Key as a different booking (409)', async () => {
      const key = { 'Idempotency-Key': `slot-${Date.now()}` };
      const person = buildPatient();
      const first = await patient.client.post(
        '/api/bookings',
        { patient: person, serviceIds: [service.id], slotStart: '2026-03-03T11:00:00+05:30' },
        key,
      );
      expect(first.status).to.equal(202);
      const again = await patient.client.post(
        '/api/bookings',
        { patient: person, serviceIds: [service.id], slotStart: '2026-03-03T05:30:00Z' },
        key,
      );
      expect(again.status).to.equal(202);
      expect(again.body.booking.id).to.equal(first.body.booking.id);
      const other = await patient.client.post(
        '/api/bookings',
        { patient: person, serviceIds: [service.id], slotStart: '2026-03-03T11:15:00+05:30' },
        key,
      );
      expectError(other, 409, 'idempotency_key_reused');
    });
  });

  describe('GET /api/admin/appointments and the fill rate', () => {
    it("lists a day's appointments in time order with patient, services and status", async () => {
      const ids: string[] = [];
      for (const slotStart of [
        '2026-03-06T12:30:00+05:30',
        '2026-03-06T09:30:00+05:30',
        '2026-03-07T09:30:00+05:30',
      ]) {
        const res = await patient.client.post('/api/bookings', {
          patient: buildPatient({ name: `Patient at ${slotStart.slice(11, 16)}` }),
          serviceIds: [service.id],
          slotStart,
        });
        expect(res.status, res.text).to.equal(202);
        ids.push(res.body.booking.id);
      }
      const res = await admin.client.get('/api/admin/appointments?date=2026-03-06');
      expect(res.status, res.text).to.equal(200);
      expect(res.body.date).to.equal('2026-03-06');
      const listed = res.body.appointments as {
        id: string;
        status: string;
        patient: { name: string };
        services: { id: string }[];
        appointment: { start: string };
      }[];
      expect(listed.map((b) => b.id)).to.deep.equal([ids[1], ids[0]]);
      expect(listed.map((b) => b.appointment.start)).to.deep.equal([
        '2026-03-06T09:30:00+05:30',
        '2026-03-06T12:30:00+05:30',
      ]);
      expect(listed[0]).to.deep.include({ status: 'PENDING', patient: listed[0]!.patient });
      expect(listed[0]?.patient.name).to.equal('Patient at 09:30');
      expect(listed[0]?.services.map((line) => line.id)).to.deep.equal([service.id]);

      expectError(await admin.client.get('/api/admin/appointments?date=2026-02-30'), 400);
      expectError(await admin.client.get('/api/admin/appointments?date=a&date=b'), 400);
      expectError(await patient.client.get('/api/admin/appointments?date=2026-03-06'), 403);
    });

    it("puts today's fill rate on the admin stats", async () => {
      const before = (await admin.client.get('/api/admin/stats')).body.appointments;
      expect(before).to.include({ date: '2026-03-02', places: 108 });
      await holdPlaces('2026-03-02T12:00:00+05:30', 3);
      await holdPlaces('2026-03-02T12:15:00+05:30', 3);
      await holdPlaces('2026-03-01T12:15:00+05:30', 3);
      const after = (await admin.client.get('/api/admin/stats')).body.appointments;
      expect(after).to.deep.equal({
        date: '2026-03-02',
        held: before.held + 6,
        places: 108,
        fillRate: Math.round(((before.held + 6) / 108) * 1000) / 1000,
      });
    });
  });
});
