import { expect } from 'chai';
import { formatReport, runChaos } from './chaos-run.js';

// The short version of `npm run chaos` (which books 1,000): every kind of booking under every fault.
describe('chaos: the system under faults (short run)', function () {
  it('keeps every promise: terminal bookings, one charge, exact quota, one release, one email, no crash', async function () {
    // Long enough for the report to print when a promise never holds: a timeout would tell nothing.
    this.timeout(420_000);
    const report = await runChaos({
      bookings: 150,
      faultWindowMs: 40_000,
      concurrency: 6,
      settleMs: 150_000,
      log: () => {},
    });
    process.stdout.write(`${formatReport(report).replace(/^/gm, '      ')}\n`);
    expect(report.faults['workers SIGKILLed']).to.be.greaterThan(10);
    expect(report.faults['Redis restarts losing the AOF tail']).to.equal(1);
    expect(report.byStatus.CONFIRMED ?? 0).to.be.greaterThan(0);
    expect(report.byStatus.FAILED ?? 0).to.be.greaterThan(0);
    expect(report.byStatus.REJECTED ?? 0).to.be.greaterThan(0);
    expect(report.violations).to.deep.equal([]);
  });
});
