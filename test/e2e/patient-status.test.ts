import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.js';
import { launchBrowser, serve } from '../support/browser.js';
import { createService } from '../support/factories.js';
import { openPage, signUp, unexpected } from '../support/pages.js';
import { FLOWS } from '../support/saga-helpers.js';
import { SagaSystem, workerNames } from '../support/system.js';
import { waitFor } from '../support/wait.js';

// Headless Chromium never hides a tab, so the page is given a switch that plays the browser's part:
// it flips document.hidden / visibilityState and fires visibilitychange, as a real tab switch does.
const VISIBILITY_SWITCH = `
  let hidden = false;
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
  Object.defineProperty(Document.prototype, 'visibilityState', {
    configurable: true,
    get: () => (hidden ? 'hidden' : 'visible'),
  });
  window.setTabHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event('visibilitychange'));
  };
`;

/** Status polls of one page, with the page's (fake) clock time at which each was sent. */
class PollWatch {
  readonly sent: number[] = [];
  private inFlight = 0;
  private fakeNow = 0;

  constructor(
    private readonly page: Page,
    pathPattern: RegExp,
  ) {
    page.on('request', (request) => {
      if (!pathPattern.test(new URL(request.url()).pathname)) return;
      this.sent.push(this.fakeNow);
      this.inFlight++;
    });
    const done = (request: { url(): string }) => {
      if (pathPattern.test(new URL(request.url()).pathname)) this.inFlight--;
    };
    page.on('requestfinished', done);
    page.on('requestfailed', done);
  }

  /**
   * Moves the page's clock on in small steps; after each, waits until any poll it caused has been
   * answered and handled, so the page schedules its next poll before time moves again.
   */
  async advance(totalMs: number, until?: () => Promise<boolean>, stepMs = 100): Promise<void> {
    for (let elapsed = 0; elapsed < totalMs; elapsed += stepMs) {
      await this.page.clock.runFor(stepMs);
      this.fakeNow += stepMs;
      await waitFor(() => this.inFlight === 0, { intervalMs: 5, message: 'the poll to be answered' });
      // Two round trips into the page: its handlers of the answer have run by then.
      await this.page.evaluate('0');
      await this.page.evaluate('0');
      if (until && (await until())) return;
    }
  }

  gaps(from = 0): number[] {
    return this.sent.slice(from + 1).map((at, i) => at - (this.sent[from + i] as number));
  }
}

describe('live status and history in a real browser', function () {
  this.timeout(90_000);
  let system: SagaSystem;
  let web: TestApp;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let service: { id: string; name: string };

  before(async function () {
    this.timeout(120_000);
    const [started, app] = await Promise.allSettled([
      SagaSystem.start({
        processes: workerNames(),
        env: { PAYMENT_DELAY_MS: '50', SAGA_DEADLINE_MS: '600000' },
      }),
      startTestApp({ relay: true }),
    ]);
    if (started.status === 'fulfilled') system = started.value;
    if (app.status === 'fulfilled') web = app.value;
    if (started.status === 'rejected') throw started.reason;
    if (app.status === 'rejected') throw app.reason;
    server = await serve(web.app);
    browser = await launchBrowser();
    service = await createService(web.db, { name: 'Status Consultation', pricePaise: 50_000 });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') system?.dump();
    if (system && !system.isRunning('payment')) await system.launch('payment');
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    await server?.close();
    try {
      await web?.close();
    } finally {
      await system?.stop();
    }
  });

  /**
   * A patient in a browser with a booking that waits for the payment worker (stopped meanwhile).
   * The context's pages run on a fake clock.
   */
  async function pendingBooking(): Promise<{
    context: BrowserContext;
    page: Page;
    problems: string[];
    id: string;
  }> {
    if (system.isRunning('payment')) await system.kill('payment', 'SIGTERM');
    const { context, page, problems } = await openPage(browser);
    await signUp(page, server.url);
    const { token } = (await (await page.request.get(`${server.url}/api/csrf-token`)).json()) as {
      token: string;
    };
    const res = await page.request.post(`${server.url}/api/bookings`, {
      headers: { 'x-csrf-token': token },
      data: {
        patient: {
          name: 'Rohan Das',
          gender: 'male',
          dateOfBirth: '1985-05-05',
          phone: '9812345678',
          email: 'rohan@example.com',
        },
        serviceIds: [service.id],
      },
    });
    expect(res.status()).to.equal(202);
    const { booking } = (await res.json()) as { booking: { id: string } };
    await context.addInitScript(VISIBILITY_SWITCH);
    await page.clock.install();
    return { context, page, problems, id: booking.id };
  }

  const statusOf = async (id: string) =>
    (
      await web.db
        .selectFrom('booking.bookings')
        .select('status')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
    ).status;

  it('polls fast at first, backs off to a cap, pauses while the tab is hidden and resumes when shown', async () => {
    const { context, page, problems, id } = await pendingBooking();
    const polls = new PollWatch(page, new RegExp(`^/api/bookings/${id}/status$`));
    await page.goto(`${server.url}/bookings/${id}`);
    expect(await page.getByRole('status').innerText()).to.equal('Pending');

    await polls.advance(18_000);
    expect(polls.sent[0]).to.be.at.most(600);
    const gaps = polls.gaps();
    expect(gaps.length).to.be.at.least(5);
    // Each wait longer than the one before until the cap (5 s), never longer than the cap.
    const capMs = 5_000;
    for (let i = 1; i < gaps.length; i++) {
      if ((gaps[i - 1] as number) < capMs - 200) expect(gaps[i]).to.be.above(gaps[i - 1] as number);
    }
    expect(Math.max(...gaps)).to.be.at.most(capMs + 200);
    expect(gaps.at(-1)).to.be.at.least(capMs - 100);
    expect(await page.getByRole('status').innerText()).to.equal('Pending');

    await page.evaluate('window.setTabHidden(true)');
    const beforeHidden = polls.sent.length;
    await polls.advance(30_000, undefined, 500);
    expect(polls.sent.length, 'polls while hidden').to.equal(beforeHidden);

    await page.evaluate('window.setTabHidden(false)');
    await polls.advance(1_000);
    // Shown again: one poll at once, then fast again (the backoff starts over, far below the cap).
    expect(polls.sent.length).to.equal(beforeHidden + 2);
    expect(polls.gaps(beforeHidden)[0]).to.be.at.most(1_000);
    expect(unexpected(problems)).to.deep.equal([]);
    await context.close();
  });

  it('follows the saga live, announces each step without moving focus, and stops polling at the end', async () => {
    const { context, page, problems, id } = await pendingBooking();
    const polls = new PollWatch(page, new RegExp(`^/api/bookings/${id}/status$`));
    await page.goto(`${server.url}/bookings/${id}`);
    const history = await context.newPage();
    const listPolls = new PollWatch(history, /^\/api\/bookings$/);
    await history.goto(`${server.url}/bookings`);
    const row = history.getByRole('row', { name: /MC-/ });
    expect(await row.locator('.badge').innerText()).to.equal('Pending');

    await polls.advance(2_000);
    expect(polls.sent.length).to.be.at.least(2);
    expect(await page.getByRole('status').innerText()).to.equal('Pending');

    await system.launch('payment');
    await waitFor(async () => (await statusOf(id)) === 'CONFIRMED', {
      timeoutMs: 20_000,
      message: 'the booking to be confirmed',
    });
    await polls.advance(10_000, async () => (await page.getByRole('status').innerText()) === 'Confirmed');
    expect(await page.getByRole('status').innerText()).to.equal('Confirmed');
    expect(
      await page
        .locator('ol.timeline li')
        .evaluateAll((items) => items.map((li) => li.getAttribute('data-type'))),
    ).to.deep.equal(FLOWS.undiscounted);
    expect(await page.locator('#announcer').innerText()).to.contain('Booking confirmed at');
    expect(await page.evaluate('document.activeElement === document.body')).to.equal(true);
    expect(await page.locator('.breakdown .total td').innerText()).to.equal('₹500.00');

    const settled = polls.sent.length;
    await polls.advance(60_000, undefined, 1_000);
    expect(polls.sent.length, 'polls after Confirmed').to.equal(settled);

    await listPolls.advance(10_000, async () => (await row.locator('.badge').innerText()) === 'Confirmed');
    expect(await row.locator('.badge').innerText()).to.equal('Confirmed');
    expect(await row.innerText()).to.contain('₹500.00');
    const listed = listPolls.sent.length;
    await listPolls.advance(60_000, undefined, 1_000);
    expect(listPolls.sent.length, 'history polls after nothing is pending').to.equal(listed);
    expect(unexpected(problems)).to.deep.equal([]);
    await context.close();
  });
});
