// npm run chaos [-- --bookings 1000 --window 120]: the fault-injection run, with its report.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
// The compiled build takes no development secret: the run makes one of its own.
process.env.SESSION_SECRET ||= randomBytes(32).toString('base64url');
// The run's own connections see the faults too: their warnings are expected.
logger.level = 'error';

// As the Procfile runs it: the compiled build.
process.stdout.write('chaos: building (npm run build)\n');
execFileSync('npm', ['run', '--silent', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
const report = await runChaos({
  bookings: Number(values.bookings),
  faultWindowMs: Number(values.window) * 1000,
  compiled: true,
});
process.stdout.write(`${formatReport(report)}\n`);
process.exitCode = report.violations.length === 0 ? 0 : 1;
