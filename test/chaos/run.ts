// npm run chaos [-- --bookings 1000 --window 120]: the fault-injection run, with its report.
import { parseArgs } from 'node:util';
import { logger } from '../../lib/logger.js';
import { formatReport, runChaos } from './chaos-run.js';

const { values } = parseArgs({
  options: { bookings: { type: 'string', default: '1000' }, window: { type: 'string', default: '120' } },
});
// Where the run's own database is created (and its key prefix), as the tests do.
process.env.DATABASE_URL ||= 'postgres://postgres@127.0.0.1:5432/clinic';
process.env.REDIS_URL ||= 'redis://127.0.0.1:6379';
process.env.REDIS_PREFIX ||= 'chaos:';
process.env.NODE_ENV = 'test';
// The run's own connections see the faults too: their warnings are expected.
logger.level = 'error';

const report = await runChaos({
  bookings: Number(values.bookings),
  faultWindowMs: Number(values.window) * 1000,
});
process.stdout.write(`${formatReport(report)}\n`);
process.exitCode = report.violations.length === 0 ? 0 : 1;
