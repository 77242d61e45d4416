import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import { COUNT_CAP } from '../../../lib/admin/booking-search.js';
import { foldCounters } from '../../../lib/admin/dashboard-stats.js';
import { generateReference } from '../../../lib/booking/reference.js';
import { fixedClock } from '../../../lib/clock.js';
import { createEvent } from '../../../lib/events/catalogue.js';
import { createUser } from '../../../lib/identity/user-service.js';
import type { TestApp } from '../../support/app.js';
import { expectError, startApiApp, trackWrites } from '../../support/api-helpers.js';
import { buildUser, insertBooking, loggedInAdmin } from '../../support/factories.js';
import type { Client } from '../../support/http.js';

interface Page<T> {
  total: number;
  totalIsLowerBound: boolean;
  next: string | null;
  bookings?: T[];
  entries?: T[];
}

describe('API: admin lists (keyset pages with counts), stats from counters, replays', function () {
  let testApp: TestApp;
  let cleanUp: () => Promise<void>;
  let admin: { client: Client; user: { email: string } };
  let owner: string;

  before(async () => {
    testApp = await startApiApp();
    cleanUp = await trackWrites(testApp.db);
    admin = await loggedInAdmin(testApp.app, testApp.db);
    owner = (await createUser(testApp.db, buildUser())).id;
  });

  after(async () => {
    await cleanUp?.();
    await testApp?.close();
  });

  const booking = (overrides: Parameters<typeof insertBooking>[1] = {}) =>
    insertBooking(testApp.db, { userId: owner, ...overrides });

  /** Every page of a list, following `next`, with each page's count. */
  async function allPages(path: string, key: 'bookings' | 'entries') {
    const pages: { ids: string[]; total: number }[] = [];
    let after: string | null = null;
    do {
      const separator = path.includes('?') ? '&' : '?';
      const res = await admin.client.get(`${path}${after ? `${separator}after=${after}` : ''}`).expect(200);
      const body = res.body as Page<{ id: string | number }>;
      pages.push({ ids: (body[key] ?? []).map((row) => String(row.id)), total: body.total });
      after = body.next;
    } while (after && pages.length < 50);
    return pages;
  }

  describe('bookings', function () {
    it('filters by status, reference, patient name and IST dates: exactly the matching rows, newest first, across pages', async () => {
      const token = `Keyset${randomUUID().slice(0, 6)}`;
      const at = (iso: string) => new Date(iso);
      const rows = [
        await booking({
          patientName: `${token} A`,
          status: 'CONFIRMED',
          createdAt: at('2032-07-01T18:29:59.999Z'),
        }),
        await booking({
          patientName: `${token} B`,
          status: 'CONFIRMED',
          createdAt: at('2032-07-01T18:30:00.000Z'),
        }),
        await booking({
          patientName: `${token} C`,
          status: 'FAILED',
          createdAt: at('2032-07-02T10:00:00.000Z'),
        }),
        // Two at the same instant: the id breaks the tie, and neither is skipped or shown twice.
        await booking({
          patientName: `${token} D`,
          status: 'CONFIRMED',
          createdAt: at('2032-07-02T11:00:00.000Z'),
        }),
        await booking({
          patientName: `${token} E`,
          status: 'CONFIRMED',
          createdAt: at('2032-07-02T11:00:00.000Z'),
        }),
        await booking({
          patientName: `${token} F`,
          status: 'REJECTED',
          createdAt: at('2032-07-03T18:29:00.000Z'),
        }),
        await booking({
          patientName: `${token} G`,
          status: 'CONFIRMED',
          createdAt: at('2032-07-03T18:31:00.000Z'),
        }),
      ];
      const ids = (picked: typeof rows) => picked.map((row) => row.id);
      const newestFirst = (picked: typeof rows) =>
        [...picked].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (b.id > a.id ? 1 : -1));
      const name = encodeURIComponent(token.toLowerCase());

      // 2 and 3 July in IST: from 1 July 18:30 UTC to 3 July 18:30 UTC.
      const inRange = await allPages(
        `/api/admin/bookings?patientName=${name}&from=2032-07-02&to=2032-07-03&limit=2`,
        'bookings',
      );
      expect(inRange.map((page) => page.ids.length)).to.deep.equal([2, 2, 1]);
      expect(inRange.every((page) => page.total === 5)).to.equal(true);
      expect(inRange.flatMap((page) => page.ids)).to.deep.equal(ids(newestFirst(rows.slice(1, 6))));

      const confirmed = await allPages(
        `/api/admin/bookings?patientName=${name}&status=CONFIRMED&limit=1`,
        'bookings',
      );
      expect(confirmed.flatMap((page) => page.ids)).to.deep.equal(
        ids(newestFirst(rows.filter((_, i) => [0, 1, 3, 4, 6].includes(i)))),
      );

      const byReference = await allPages(
        `/api/admin/bookings?reference=${rows[2]!.reference.slice(0, 7).toLowerCase()}&patientName=${name}`,
        'bookings',
      );
      expect(byReference.flatMap((page) => page.ids)).to.include(rows[2]!.id);
      const exact = await allPages(`/api/admin/bookings?reference=${rows[2]!.reference}`, 'bookings');
      expect(exact).to.deep.equal([{ ids: [rows[2]!.id], total: 1 }]);
    });

    it('a text search with more matches than the count cap still pages newest first', async () => {
      const token = `Crowd${randomUUID().slice(0, 6)}`;
      // Written oldest first, so the newest are the last rows a scan of the table meets. References
      // distinct by construction (the row's number in hex): ten thousand drawn at random collide about
      // once in a hundred runs.
      await sql`
        INSERT INTO booking.bookings (id, reference, user_id, status, correlation_id, patient_name, patient_gender,
          patient_date_of_birth, patient_phone, patient_email, request_hash, deadline_at, created_at)
        SELECT gen_random_uuid(), 'MC-' || upper(substr(md5(${token}), 1, 4)) || '-' || lpad(upper(to_hex(n)), 4, '0'),
          ${owner}::uuid, 'CONFIRMED', gen_random_uuid(), ${token} || ' ' || n, 'female', '1990-05-17',
          '+91 98450 12345', 'crowd@example.com', 'test', now() + interval '2 minutes',
          timestamptz '2033-01-01' + n * interval '1 minute'
        FROM generate_series(1, ${COUNT_CAP + 30}) AS n`.execute(testApp.db);
      const newest = Array.from({ length: 50 }, (_, i) => `${token} ${COUNT_CAP + 30 - i}`);

      for (const filter of [`q=${token}`, `patientName=${token}`]) {
        const first = (await admin.client.get(`/api/admin/bookings?${filter}`).expect(200)).body as Page<{
          patient: { name: string };
        }>;
        expect(first).to.include({ total: COUNT_CAP, totalIsLowerBound: true });
        expect(first.bookings!.map((b) => b.patient.name)).to.deep.equal(newest.slice(0, 25));
        const second = (
          await admin.client.get(`/api/admin/bookings?${filter}&after=${first.next}`).expect(200)
        ).body as Page<{ patient: { name: string } }>;
        expect(second.bookings!.map((b) => b.patient.name)).to.deep.equal(newest.slice(25, 50));
      }
    });

    /** The ids the admin search finds for these filters, newest first, over every page. */
    const found = async (filters: string) =>
      (await allPages(`/api/admin/bookings?${filters}`, 'bookings')).flatMap((page) => page.ids);

    it('finds a booking written after migration 0011 by any part of its patient name or email, any case', async () => {
      const token = randomUUID().slice(0, 8);
      const row = await booking({ patientName: `Ishaan ${token}wala` });
      const email = (
        await testApp.db
          .selectFrom('booking.bookings')
          .select('patient_email')
          .where('id', '=', row.id)
          .executeTakeFirstOrThrow()
      ).patient_email;

      for (const part of [`${token}WALA`, `an ${token.slice(0, 5)}`, `ishaan ${token}wala`]) {
        expect(await found(`q=${encodeURIComponent(part)}`)).to.deep.equal([row.id]);
        expect(await found(`patientName=${encodeURIComponent(part)}`)).to.deep.equal([row.id]);
      }
      expect(await found(`q=${encodeURIComponent(email.slice(3, -4).toUpperCase())}`)).to.deep.equal([
        row.id,
      ]);
      // The name filter reads names only.
      expect(await found(`patientName=${encodeURIComponent(email)}`)).to.deep.equal([]);
    });

    it('finds a booking by its new patient name once the name is changed, and not by the old one', async () => {
      const token = randomUUID().slice(0, 8);
      const row = await booking({ patientName: `Before${token}` });
      expect(await found(`q=before${token}`)).to.deep.equal([row.id]);

      await testApp.db
        .updateTable('booking.bookings')
        .set({ patient_name: `After${token} Rao` })
        .where('id', '=', row.id)
        .execute();

      expect(await found(`q=${encodeURIComponent(`${token} rao`)}`)).to.deep.equal([row.id]);
      expect(await found(`patientName=after${token}`)).to.deep.equal([row.id]);
      expect(await found(`q=before${token}`)).to.deep.equal([]);
    });

    it('finds a booking by any part of its reference: its beginning, either block, across the dash', async () => {
      const reference = generateReference();
      const row = await booking({ reference });
      const parts = [
        reference,
        reference.toLowerCase(),
        reference.slice(0, 9),
        reference.slice(0, 6).toLowerCase(),
        reference.slice(3, 7),
        reference.slice(5, 10).toLowerCase(),
        reference.slice(8),
      ];
      for (const part of parts) expect(await found(`q=${encodeURIComponent(part)}`), part).to.include(row.id);
      // Found where the reference and the name both hold q, once.
      const named = await booking({ patientName: `Patient ${reference.slice(8)}` });
      const both = await found(`q=${reference.slice(8)}`);
      expect(both).to.include.members([row.id, named.id]);
      expect(new Set(both).size).to.equal(both.length);
    });

    it('refuses malformed filters with 400 and the error shape', async () => {
      const bad = [
        'status=DONE',
        'status=PENDING&status=FAILED',
        'from=2032-02-30',
        'from=1999-12-31',
        'to=2101-01-01',
        'from=2032-07-03&to=2032-07-02',
        'patientName=%00',
        `patientName=${'x'.repeat(121)}`,
        'after=not-an-id',
        `after=${randomUUID()}`,
        'limit=0',
        'limit=101',
        'limit=2.5',
      ];
      for (const query of bad) {
        expectError(await admin.client.get(`/api/admin/bookings?${query}`), 400, 'validation_failed');
      }
    });
  });

  describe('audit logs', function () {
    it('filters by type, actor, booking, correlation id and time: exactly the matching entries, across pages', async () => {
      const type = `TestKeyset${randomUUID().slice(0, 6)}`;
      const bookingId = randomUUID();
      const correlationId = randomUUID();
      const base = Date.parse('2033-01-10T10:00:00Z');
      const values = Array.from({ length: 7 }, (_, i) => ({
        // Entries 2 and 3 share one instant.
        at: new Date(base + (i === 3 ? 2 : i) * 1000),
        type,
        actor: i % 2 === 0 ? 'asha@clinic.example' : 'bala@clinic.example',
        booking_id: i < 4 ? bookingId : null,
        correlation_id: i < 5 ? correlationId : randomUUID(),
        event_id: null,
        data: JSON.stringify({ n: i }),
      }));
      const inserted = await testApp.db
        .insertInto('audit.entries')
        .values(values)
        .returning(['id'])
        .execute();
      const newestFirst = (indexes: number[]) =>
        indexes
          .map((i) => ({ id: inserted[i]!.id, at: values[i]!.at.getTime() }))
          .sort((a, b) => b.at - a.at || b.id - a.id)
          .map((row) => String(row.id));

      const all = await allPages(`/api/admin/audit-logs?type=${type}&limit=3`, 'entries');
      expect(all.map((page) => page.ids.length)).to.deep.equal([3, 3, 1]);
      expect(all.every((page) => page.total === 7)).to.equal(true);
      expect(all.flatMap((page) => page.ids)).to.deep.equal(newestFirst([0, 1, 2, 3, 4, 5, 6]));

      const asha = await allPages(
        `/api/admin/audit-logs?type=${type}&actor=asha%40clinic.example&limit=2`,
        'entries',
      );
      expect(asha.flatMap((page) => page.ids)).to.deep.equal(newestFirst([0, 2, 4, 6]));
      const ofBooking = await allPages(`/api/admin/audit-logs?bookingId=${bookingId}&limit=2`, 'entries');
      expect(ofBooking.flatMap((page) => page.ids)).to.deep.equal(newestFirst([0, 1, 2, 3]));
      const ofSaga = await allPages(
        `/api/admin/audit-logs?correlationId=${correlationId}&limit=4`,
        'entries',
      );
      expect(ofSaga.flatMap((page) => page.ids)).to.deep.equal(newestFirst([0, 1, 2, 3, 4]));
      const from = encodeURIComponent('2033-01-10T15:30:02+05:30');
      const to = encodeURIComponent('2033-01-10T10:00:04Z');
      const window = await allPages(
        `/api/admin/audit-logs?type=${type}&from=${from}&to=${to}&limit=2`,
        'entries',
      );
      expect(window.flatMap((page) => page.ids)).to.deep.equal(newestFirst([2, 3, 4]));
    });

    it('refuses malformed filters with 400', async () => {
      for (const query of [
        'from=yesterday',
        'from=2033-01-10T10:00:00',
        'from=1970-01-01T00:00:00Z',
        'from=2033-01-10T10:00:00Z&to=2033-01-09T10:00:00Z',
        'bookingId=MC-0000-0000',
        'type=a&type=b',
        'actor=%00',
        'after=-1',
        'limit=1001',
      ]) {
        expectError(await admin.client.get(`/api/admin/audit-logs?${query}`), 400, 'validation_failed');
      }
    });
  });

  describe('stats', function () {
    interface Stats {
      bookingsByStatus: Record<string, number>;
      eventsByType: Record<string, number>;
      sagaLatency: { count: number; p50Ms: number | null; p95Ms: number | null };
      perMinute: {
        minute: string;
        requested: number;
        finished: Record<string, number>;
        p50Ms: number | null;
        p95Ms: number | null;
      }[];
      outboxBacklog: number;
      deadLetters: number;
      streamLag: { stream: string; group: string; lag: number; pending: number }[];
    }
    const stats = async () => (await admin.client.get('/api/admin/stats').expect(200)).body as Stats;

    it('counts from the per-minute counters the database keeps in the same transaction as the change', async () => {
      const before = await stats();
      // Requested 2 s ago and finished now: a finish in the future would fall outside the window
      // in a minute's last 2 s.
      const created = await booking({ status: 'PENDING', createdAt: new Date(Date.now() - 2_000) });
      const pending = await stats();
      const requested = (s: Stats) => s.perMinute.reduce((sum, minute) => sum + minute.requested, 0);
      expect(pending.bookingsByStatus.PENDING).to.equal(before.bookingsByStatus.PENDING! + 1);
      expect(requested(pending)).to.equal(requested(before) + 1);

      // The saga took 2 s: the latency counters put it in the bucket up to 2,118 ms (10 · 1.25^24).
      await sql`
        UPDATE booking.bookings SET status = 'CONFIRMED', finished_at = created_at + interval '2 seconds'
        WHERE id = ${created.id}`.execute(testApp.db);
      const confirmed = await stats();
      expect(confirmed.bookingsByStatus.PENDING).to.equal(before.bookingsByStatus.PENDING);
      expect(confirmed.bookingsByStatus.CONFIRMED).to.equal(before.bookingsByStatus.CONFIRMED! + 1);
      expect(confirmed.sagaLatency.count).to.equal(before.sagaLatency.count + 1);
      const finishedNow = confirmed.perMinute.reduce(
        (sum, minute) => sum + (minute.finished.CONFIRMED ?? 0),
        0,
      );
      const finishedBefore = before.perMinute.reduce(
        (sum, minute) => sum + (minute.finished.CONFIRMED ?? 0),
        0,
      );
      expect(finishedNow).to.equal(finishedBefore + 1);
      expect(confirmed.perMinute).to.have.length(60);

      await testApp.db
        .insertInto('audit.entries')
        .values({
          at: new Date(),
          type: 'BookingConfirmed',
          actor: 'system',
          booking_id: created.id,
          correlation_id: created.correlationId,
          event_id: randomUUID(),
          data: '{}',
        })
        .execute();
      expect((await stats()).eventsByType.BookingConfirmed).to.equal(
        (before.eventsByType.BookingConfirmed ?? 0) + 1,
      );

      await testApp.db.deleteFrom('booking.bookings').where('id', '=', created.id).execute();
      expect((await stats()).bookingsByStatus.CONFIRMED).to.equal(before.bookingsByStatus.CONFIRMED);
    });

    it('reads the last hour per minute on the clock it is given: requests, outcomes and latency quantiles', async () => {
      // A minute nobody else writes to: the app's clock stands 30 s into it.
      const minute = '2034-01-01T00:00:00.000Z';
      const later = await startApiApp({ clock: fixedClock('2034-01-01T00:00:30Z') });
      try {
        const laterAdmin = await loggedInAdmin(later.app, later.db);
        const saga = async (ms: number) => {
          const row = await booking({ status: 'PENDING', createdAt: new Date(minute) });
          await sql`
            UPDATE booking.bookings SET status = 'CONFIRMED', finished_at = created_at + ${`${ms} milliseconds`}::interval
            WHERE id = ${row.id}`.execute(testApp.db);
        };
        // Nine quick sagas and one slow: p50 in the 160 ms bucket (up to 10 · 1.25^13 ≈ 182 ms), p95 the slow one's.
        for (let i = 0; i < 9; i++) await saga(160);
        await saga(5_000);
        const figures = (await laterAdmin.client.get('/api/admin/stats').expect(200)).body as Stats;
        expect(figures.perMinute).to.have.length(60);
        expect(figures.perMinute[0]!.minute).to.equal('2033-12-31T23:01:00.000Z');
        expect(figures.perMinute[59]).to.deep.equal({
          minute,
          requested: 10,
          finished: { CONFIRMED: 10 },
          p50Ms: 182,
          p95Ms: 5_170,
        });
        expect(figures.sagaLatency).to.deep.equal({ count: 10, p50Ms: 182, p95Ms: 5_170 });
        expect(figures.perMinute.slice(0, 59).every((m) => m.requested === 0 && m.p50Ms === null)).to.equal(
          true,
        );
      } finally {
        await later.close();
      }
    });

    it('folds the backends’ counter rows into one, skipping a row a transaction holds, totals unchanged', async () => {
      const key = `TEST_${randomUUID().slice(0, 6)}`;
      await sql`INSERT INTO stats.booking_status VALUES (${key}, 111, 2), (${key}, 222, 3), (${key}, 333, 4)`.execute(
        testApp.db,
      );
      const rows = async () =>
        (
          await sql<{ shard: number; count: number }>`
            SELECT shard, count FROM stats.booking_status WHERE status = ${key} ORDER BY shard`.execute(
            testApp.db,
          )
        ).rows.map((row) => [row.shard, Number(row.count)]);
      // A transaction counting on shard 333 holds its row while the fold runs.
      await testApp.db.transaction().execute(async (trx) => {
        await sql`UPDATE stats.booking_status SET count = count + 1 WHERE status = ${key} AND shard = 333`.execute(
          trx,
        );
        await foldCounters(testApp.db, new Date());
      });
      expect(await rows()).to.deep.equal([
        [0, 5],
        [333, 5],
      ]);
      await foldCounters(testApp.db, new Date());
      expect(await rows()).to.deep.equal([[0, 10]]);
      await sql`DELETE FROM stats.booking_status WHERE status = ${key}`.execute(testApp.db);
    });

    it('reports the outbox backlog, open dead letters and each group’s lag', async () => {
      const before = await stats();
      const event = createEvent(
        'BookingFailed',
        { reason: 'test' },
        { bookingId: randomUUID(), correlationId: randomUUID(), causationId: null },
      );
      await testApp.db
        .insertInto('bus.outbox')
        .values({ stream: 'booking', event_id: event.eventId, payload: JSON.stringify(event) })
        .execute();
      await testApp.db
        .insertInto('bus.dead_letters')
        .values({
          stream: 'booking',
          entry_id: '1-0',
          consumer_group: `lag-${randomUUID().slice(0, 6)}`,
          event_id: null,
          type: null,
          payload: '{}',
          error: 'invalid envelope',
          deliveries: 1,
        })
        .execute();
      const key = `${testApp.config.REDIS_PREFIX}stream:booking`;
      const group = `lag-test-${randomUUID().slice(0, 6)}`;
      await testApp.redis.xadd(key, '*', 'type', 'x', 'event', '{}');
      await testApp.redis.xgroup('CREATE', key, group, '0');
      const length = await testApp.redis.xlen(key);
      await testApp.redis.xreadgroup('GROUP', group, 'reader', 'COUNT', 1, 'STREAMS', key, '>');

      const after = await stats();
      expect(after.outboxBacklog).to.equal(before.outboxBacklog + 1);
      expect(after.deadLetters).to.equal(before.deadLetters + 1);
      expect(after.streamLag.find((row) => row.group === group)).to.deep.equal({
        stream: 'booking',
        group,
        lag: length - 1,
        pending: 1,
      });
      await testApp.redis.xgroup('DESTROY', key, group);
    });
  });

  describe('config', function () {
    it('shows the version each participant applies and when it applied it', async () => {
      const applied = async () =>
        (
          (await admin.client.get('/api/admin/config').expect(200)).body as {
            version: number;
            applied: { participant: string; version: number; appliedAt: string }[];
          }
        ).applied;
      const before = await applied();
      expect(before.map((row) => row.participant)).to.deep.equal(['pricing', 'discount-quota', 'payment']);
      const at = new Date();
      await testApp.db
        .updateTable('quota.settings')
        .set({ version: before[1]!.version + 1 })
        .execute();
      const after = await applied();
      expect(after[1]!.version).to.equal(before[1]!.version + 1);
      expect(Date.parse(after[1]!.appliedAt)).to.be.at.least(at.getTime() - 1000);
      expect(after[0]).to.deep.equal(before[0]);
      await testApp.db.updateTable('quota.settings').set({ version: before[1]!.version }).execute();
    });
  });

  describe('dead letters', function () {
    it('replays every readable letter of one group, audited with the admin; others stay', async () => {
      const group = `replay-all-${randomUUID().slice(0, 6)}`;
      const insert = async (consumerGroup: string, readable: boolean) => {
        const event = createEvent(
          'BookingFailed',
          { reason: 'test' },
          { bookingId: randomUUID(), correlationId: randomUUID(), causationId: null },
        );
        const row = await testApp.db
          .insertInto('bus.dead_letters')
          .values({
            stream: 'booking',
            entry_id: `${randomUUID()}`,
            consumer_group: consumerGroup,
            event_id: readable ? event.eventId : null,
            type: readable ? event.type : null,
            payload: JSON.stringify(readable ? event : { junk: true }),
            error: 'failed',
            deliveries: 5,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        return { id: row.id, event };
      };
      const mine = [await insert(group, true), await insert(group, true)];
      const unreadable = await insert(group, false);
      const other = await insert(`${group}-other`, true);

      const res = await admin.client.post('/api/admin/dead-letters/replay', { group });
      expect(res.status, res.text).to.equal(202);
      expect(res.body).to.deep.equal({ replayed: 2, notReplayable: 1 });

      const open = (
        (await admin.client.get('/api/admin/dead-letters?state=open').expect(200)).body.deadLetters as {
          id: number;
        }[]
      ).map((letter) => letter.id);
      expect(open).to.include(unreadable.id).and.include(other.id);
      expect(open).not.to.include(mine[0]!.id);
      const replayed = (await admin.client.get('/api/admin/dead-letters?state=replayed').expect(200)).body
        .deadLetters as { id: number; replayOutcome: string }[];
      expect(
        replayed.filter((letter) => mine.some((m) => m.id === letter.id)).map((l) => l.replayOutcome),
      ).to.deep.equal(['waiting', 'waiting']);
      const outbox = await testApp.db
        .selectFrom('bus.outbox')
        .select('event_id')
        .where(
          'event_id',
          'in',
          [...mine, other].map(({ event }) => event.eventId),
        )
        .execute();
      expect(outbox.map((row) => row.event_id).sort()).to.deep.equal(
        mine.map(({ event }) => event.eventId).sort(),
      );
      const audit = await testApp.db
        .selectFrom('audit.entries')
        .select(['actor', 'booking_id'])
        .where('type', '=', 'DeadLetterReplayed')
        .where(
          'booking_id',
          'in',
          mine.map(({ event }) => event.bookingId as string),
        )
        .execute();
      expect(audit).to.have.length(2);
      expect(audit.every((entry) => entry.actor === admin.user.email)).to.equal(true);

      expect(
        await admin.client.post('/api/admin/dead-letters/replay', { group: ['a', 'b'] }),
      ).to.have.property('status', 400);
      expectError(await admin.client.post('/api/admin/dead-letters/replay', {}), 400, 'validation_failed');
      expectError(
        await admin.client.get('/api/admin/dead-letters?state=everything'),
        400,
        'validation_failed',
      );
    });
  });
});
