// What the benchmarks share: a patient of the API with its cookies and CSRF token, req/s at 32 in
// flight, the Express + one query ceiling in a process of its own, and a process's CPU and memory.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import type { Db } from '../../lib/db/database.js';
import { migrateToLatest } from '../../lib/db/migrate.js';
import type { TestEnvironment } from '../support/test-env.js';

const CLK_TCK = 100;

/**
 * The run's own database and Redis prefix for the processes it starts. The compiled build takes no
 * development secret: the run makes one of its own.
 */
export function useEnvironment(environment: TestEnvironment): void {
  process.env.DATABASE_URL = environment.databaseUrl;
  process.env.REDIS_URL = environment.redisUrl;
  process.env.REDIS_PREFIX = environment.redisPrefix;
  process.env.NODE_ENV = 'test';
  process.env.SESSION_SECRET = randomBytes(32).toString('base64url');
}

/** The schema and the demo catalogue, as `npm run dev` makes them. */
export async function migrateAndSeed(db: Db): Promise<void> {
  await migrateToLatest(db);
  execFileSync(process.execPath, ['--import', 'tsx', 'server/cli/seed-demo.ts'], {
    env: process.env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** A patient of the API: keeps its cookies and CSRF token as a browser would. */
export class ApiClient {
  private readonly cookies = new Map<string, string>();
  private token = '';
  constructor(private readonly base: string) {}

  get cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(this.base + path, {
      method,
      redirect: 'manual',
      headers: {
        'content-type': 'application/json',
        cookie: this.cookieHeader,
        'x-csrf-token': this.token,
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
    }
    return res;
  }

  async refreshToken(): Promise<void> {
    const res = await this.request('GET', '/api/csrf-token');
    this.token = ((await res.json()) as { token: string }).token;
  }

  async enter(path: string, body: unknown): Promise<void> {
    await this.refreshToken();
    const res = await this.request('POST', path, body);
    if (res.status >= 300) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
    await this.refreshToken();
  }
}

/** The n-th bench booking's body: alternating genders, one patient's details. */
export function benchBooking(n: number, serviceIds: string[]) {
  return {
    patient: {
      name: 'Bench Patient',
      gender: n % 2 ? 'female' : 'male',
      dateOfBirth: '1990-01-15',
      phone: '+91 98450 12345',
      email: `bench-${n}@example.com`,
    },
    serviceIds,
  };
}

/** CPU seconds (user + system) of a process so far, and its peak resident memory in MB. */
export function processFigures(pid: number): { cpuSeconds: number; peakRssMb: number } {
  const fields = statFields(pid);
  if (!fields) return { cpuSeconds: 0, peakRssMb: 0 };
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuSeconds, peakRssMb: hwm ? Number(hwm[1]) / 1024 : 0 };
  } catch {
    return { cpuSeconds, peakRssMb: 0 };
  }
}

/**
 * The whole machine's CPU so far, from /proc/stat: seconds busy (user, nice, system, irq and softirq
 * of every core) and seconds elapsed on all cores together. Zeros where there is no /proc/stat.
 */
export function machineCpuSeconds(): { busy: number; all: number } {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0] = ticks;
    const busy = user + nice + system + irq + softirq;
    return { busy: busy / CLK_TCK, all: (busy + idle + iowait) / CLK_TCK };
  } catch {
    return { busy: 0, all: 0 };
  }
}

/** The fields of /proc/<pid>/stat after the command name (state first), or null once it has gone. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * CPU seconds of all of PostgreSQL so far: the postmaster with its children that have ended (their time
 * is added to its own when it reaps them) and those alive: every backend, also one that closed during a
 * step, and the WAL writer, checkpointer and autovacuum that the writes cost. `backendPid` is any
 * backend's (its parent is the postmaster). Counts every database's work: run a benchmark alone.
 */
export function postgresCpuSeconds(backendPid: number): number {
  const postmaster = Number(statFields(backendPid)?.[1] ?? 0);
  const own = statFields(postmaster);
  if (!own) return 0;
  // utime, stime, then cutime, cstime: the ended children's.
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields && Number(fields[1]) === postmaster) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLK_TCK;
}

/** A load of 32 requests in flight for `seconds` (5 unless told), with these headers. */
export type LoadOptions = { headers?: Record<string, string>; seconds?: number };

export async function requestsPerSec(url: string, options: LoadOptions = {}): Promise<number> {
  return (await load(url, options)).requests.average;
}

async function load(url: string, { headers = {}, seconds = 5 }: LoadOptions) {
  const result = await autocannon({ url, connections: 32, duration: seconds, headers });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return result;
}

export interface Ceilings {
  /** Express + one pg query. */
  oneQuery: number;
  /** The same behind express-session in Redis (connect-redis) and passport's session, logged in. */
  withSessions: number;
  /** The ceiling process's CPU per request, in µs, for each: steadier than req/s on a shared machine. */
  cpuMicros: { oneQuery: number; withSessions: number };
}

/** req/s of `url` at 32 in flight, and the CPU per request of the process `pid` that answered. */
export async function requestsPerSecWithCpu(
  url: string,
  pid: number,
  options: LoadOptions = {},
): Promise<{ reqPerSec: number; cpuMicros: number }> {
  const before = processFigures(pid).cpuSeconds;
  const { requests } = await load(url, options);
  const cpuMicros = ((processFigures(pid).cpuSeconds - before) / Math.max(1, requests.total)) * 1e6;
  return { reqPerSec: requests.average, cpuMicros };
}

/** The status endpoint's ceilings (test/bench/ceiling-app.ts), in a process of their own as the web is. */
export async function expressCeiling(databaseUrl: string, bookingId: string, seconds = 5): Promise<Ceilings> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/bench/ceiling-app.ts'], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<string>((resolve) =>
      createInterface({ input: child.stdout! }).once('line', resolve),
    );
    const base = `http://127.0.0.1:${port}`;
    const login = await fetch(`${base}/login`, { method: 'POST' });
    const cookie = login.headers
      .getSetCookie()
      .map((line) => line.split(';')[0])
      .join('; ');
    // Warm, as the web is when it is measured: a new process's first seconds are its JIT's.
    await requestsPerSec(`${base}/one/${bookingId}`, { seconds: 2 });
    await requestsPerSec(`${base}/session/${bookingId}`, { headers: { cookie }, seconds: 2 });
    const one = await requestsPerSecWithCpu(`${base}/one/${bookingId}`, child.pid!, { seconds });
    const sessions = await requestsPerSecWithCpu(`${base}/session/${bookingId}`, child.pid!, {
      headers: { cookie },
      seconds,
    });
    return {
      oneQuery: one.reqPerSec,
      withSessions: sessions.reqPerSec,
      cpuMicros: { oneQuery: one.cpuMicros, withSessions: sessions.cpuMicros },
    };
  } finally {
    child.kill('SIGTERM');
  }
}
