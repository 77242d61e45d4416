// The real processes of the Procfile for end-to-end tests. Each line `exec node dist/<file>.js` is run
// from the sources as `node --import tsx <file>.ts`, with the run's database and Redis prefix (set by
// the root hook) plus per-suite overrides. Their JSON log lines are kept for assertions and printed
// when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The Procfile's processes as tests run them: name → argv after `node`. */
export function readProcfile(file = path.join(root, 'Procfile'), compiled = false): Map<string, string[]> {
  const processes = new Map<string, string[]>();
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^([\w-]+):\s*(.+)$/.exec(line);
    if (!match) throw new Error(`Procfile: cannot read the line "${line}"`);
    const [, name, command] = match as unknown as [string, string, string];
    const words = command.split(/\s+/).filter((word) => word !== 'exec');
    if (words[0] !== 'node') throw new Error(`Procfile: ${name} does not run node: "${command}"`);
    const args = words.slice(1).map((word) => {
      const built = /^dist\/(.+)\.js$/.exec(word);
      return built && !compiled ? `${built[1]}.ts` : word;
    });
    if (!args.some((arg) => /^dist\/.+\.js$/.test(arg) || arg.endsWith('.ts')))
      throw new Error(`Procfile: ${name} runs no dist/*.js file: "${command}"`);
    processes.set(name, compiled ? args : ['--import', 'tsx', ...args]);
  }
  return processes;
}

/** The participants: every Procfile process but the web and the release phase. */
export function workerNames(): string[] {
  return [...readProcfile().keys()].filter((name) => name !== 'web' && name !== 'release');
}

export interface LogLine {
  process: string;
  /** 1 for the first start of the process, 2 after a restart, … */
  run: number;
  stream: 'stdout' | 'stderr';
  text: string;
  /** The parsed JSON line (winston), or null for anything else. */
  json: Record<string, unknown> | null;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Running {
  child: ChildProcess;
  run: number;
  exited: Promise<Exit>;
  /** Set when the test stops or kills it: any other exit is a crash. */
  expected: boolean;
}

export interface Crash extends Exit {
  process: string;
  run: number;
}

export interface SystemOptions {
  /** Procfile names to start; default every worker (see workerNames) and the web. */
  processes?: string[];
  /**
   * Instances of each worker, as `heroku ps:scale` runs them: more than one names them `<line>.1`,
   * `<line>.2`, … (each its own consumer name). The web runs once.
   */
  instances?: number;
  /** For every process, over the run's environment. */
  env?: Record<string, string>;
  /** For one process, over `env`. */
  envFor?: Record<string, Record<string, string>>;
  readyTimeoutMs?: number;
  /** Run the build (`npm run build` first) exactly as the Procfile says, instead of the sources. */
  compiled?: boolean;
}

const READY_MESSAGE: Record<string, string> = { web: 'web listening' };
const PARTICIPANT_READY = 'participant ready';

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export class SagaSystem {
  private readonly running = new Map<string, Running>();
  private readonly runs = new Map<string, number>();
  private readonly logLines: LogLine[] = [];
  private readonly crashes: Crash[] = [];
  private readonly killOnExit = () => {
    for (const { child } of this.running.values()) child.kill('SIGKILL');
  };

  private constructor(
    private readonly commands: Map<string, string[]>,
    private readonly envs: Map<string, Record<string, string>>,
    private readonly readyTimeoutMs: number,
    /** The spawned web's base URL, when the web runs. */
    readonly url: string | null,
  ) {}

  /** Call in a `before` hook: the root hook has put the run's database and prefix in the environment. */
  static async start(options: SystemOptions = {}): Promise<SagaSystem> {
    const { DATABASE_URL, REDIS_URL, REDIS_PREFIX } = process.env;
    if (!DATABASE_URL || !REDIS_URL || REDIS_PREFIX === undefined)
      throw new Error('the root test hook has not set up the run');
    const procfile = readProcfile(undefined, options.compiled);
    const instances = options.instances ?? 1;
    const lines = options.processes ?? [...workerNames(), 'web'];
    const names = lines.flatMap((line) =>
      line === 'web' || instances === 1
        ? [line]
        : Array.from({ length: instances }, (_, i) => `${line}.${i + 1}`),
    );
    const lineOf = (name: string) => name.replace(/\.\d+$/, '');
    for (const name of names) if (name !== lineOf(name)) procfile.set(name, procfile.get(lineOf(name))!);
    const port = names.includes('web') ? await freePort() : null;
    const envs = new Map<string, Record<string, string>>();
    for (const name of names) {
      if (!procfile.has(name)) throw new Error(`no process ${name} in the Procfile`);
      envs.set(name, {
        // Readiness and the assertions read info lines ("participant ready", "confirmation sent").
        LOG_LEVEL: 'info',
        // Stable across restarts: a restarted worker recovers its own pending entries.
        CONSUMER_NAME: `e2e-${name}`,
        ...(name === 'web' ? { PORT: String(port) } : {}),
        ...options.env,
        ...options.envFor?.[lineOf(name)],
        ...options.envFor?.[name],
      });
    }
    const system = new SagaSystem(
      procfile,
      envs,
      options.readyTimeoutMs ?? 30_000,
      port ? `http://127.0.0.1:${port}` : null,
    );
    process.once('exit', system.killOnExit);
    try {
      await Promise.all(names.map((name) => system.launch(name)));
    } catch (error) {
      system.dump();
      for (const { child } of system.running.values()) child.kill('SIGKILL');
      await Promise.all([...system.running.values()].map(({ exited }) => exited));
      process.removeListener('exit', system.killOnExit);
      throw error;
    }
    return system;
  }

  /** Starts a process that is not running (again after kill); `env` changes its environment from now on. */
  async launch(name: string, env: Record<string, string> = {}): Promise<void> {
    const args = this.commands.get(name);
    const ownEnv = this.envs.get(name);
    if (!args || !ownEnv) throw new Error(`no process ${name} in this system`);
    if (this.running.has(name)) throw new Error(`${name} is running already`);
    Object.assign(ownEnv, env);
    const run = (this.runs.get(name) ?? 0) + 1;
    this.runs.set(name, run);
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, ...ownEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<Exit>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const running: Running = { child, run, exited, expected: false };
    this.running.set(name, running);
    void exited.then((exit) => {
      if (running.expected) return;
      this.crashes.push({ process: name, run, ...exit });
      if (this.running.get(name) === running) this.running.delete(name);
    });
    const ready = READY_MESSAGE[name] ?? PARTICIPANT_READY;
    const isReady = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name} did not log "${ready}" within ${this.readyTimeoutMs} ms`)),
        this.readyTimeoutMs,
      );
      const collect = (stream: 'stdout' | 'stderr') => (text: string) => {
        let json: Record<string, unknown> | null = null;
        try {
          const parsed: unknown = JSON.parse(text);
          if (parsed && typeof parsed === 'object') json = parsed as Record<string, unknown>;
        } catch {
          // Not a log line of ours (a crash trace, a config error): kept as text.
        }
        this.logLines.push({ process: name, run, stream, text, json });
        if (json?.message === ready) {
          clearTimeout(timer);
          resolve();
        }
      };
      createInterface({ input: child.stdout! }).on('line', collect('stdout'));
      createInterface({ input: child.stderr! }).on('line', collect('stderr'));
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it logged "${ready}"`));
      });
    });
    await isReady;
  }

  /** Sends a signal and waits for the exit (SIGKILL: a crash; SIGTERM: a graceful stop). */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    const running = this.running.get(name);
    if (!running) throw new Error(`${name} is not running`);
    running.expected = true;
    running.child.kill(signal);
    const exit = await running.exited;
    this.running.delete(name);
    return exit;
  }

  /** Graceful stop (exit code 0 asserted), then a new start; `env` changes its environment from now on. */
  async restart(name: string, env: Record<string, string> = {}): Promise<void> {
    await this.stopOne(name);
    await this.launch(name, env);
  }

  /** Restarts the process only if `env` differs from what it runs with. */
  async ensureEnv(name: string, env: Record<string, string>): Promise<void> {
    const current = this.envs.get(name) ?? {};
    if (Object.entries(env).some(([key, value]) => current[key] !== value)) await this.restart(name, env);
  }

  /** Processes that exited without the test stopping or killing them. */
  crashed(): Crash[] {
    return [...this.crashes];
  }

  /** The names of the processes it runs (instances included). */
  names(): string[] {
    return [...this.envs.keys()];
  }

  /** The operating system's id of a running process (for CPU and memory figures). */
  pid(name: string): number {
    const pid = this.running.get(name)?.child.pid;
    if (pid === undefined) throw new Error(`${name} is not running`);
    return pid;
  }

  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  consumerName(name: string): string {
    const consumer = this.envs.get(name)?.CONSUMER_NAME;
    if (!consumer) throw new Error(`no process ${name} in this system`);
    return consumer;
  }

  /** Every line logged so far, of one process (all its runs) or of all. */
  lines(name?: string): LogLine[] {
    return name ? this.logLines.filter((line) => line.process === name) : [...this.logLines];
  }

  /** The JSON lines of a process with this message and these fields. */
  logged(name: string, message: string, fields: Record<string, unknown> = {}): Record<string, unknown>[] {
    return this.lines(name).flatMap(({ json }) =>
      json && json.message === message && Object.entries(fields).every(([key, value]) => json[key] === value)
        ? [json]
        : [],
    );
  }

  /** SIGTERM to every process; throws unless each exited with code 0 (the graceful shutdown works). */
  async stop(timeoutMs = 30_000): Promise<void> {
    const names = [...this.running.keys()];
    const results = await Promise.allSettled(names.map((name) => this.stopOne(name, timeoutMs)));
    process.removeListener('exit', this.killOnExit);
    const problems = results.flatMap((result) =>
      result.status === 'rejected' ? [String(result.reason)] : [],
    );
    if (problems.length > 0) {
      this.dump();
      throw new Error(`processes did not stop cleanly: ${problems.join('; ')}`);
    }
  }

  private async stopOne(name: string, timeoutMs = 30_000): Promise<void> {
    const running = this.running.get(name);
    if (!running) throw new Error(`${name} is not running`);
    running.expected = true;
    running.child.kill('SIGTERM');
    const timer = setTimeout(() => running.child.kill('SIGKILL'), timeoutMs);
    const exit = await running.exited;
    clearTimeout(timer);
    this.running.delete(name);
    if (exit.code !== 0)
      throw new Error(`${name} exited with code ${exit.code} (signal ${exit.signal}) on SIGTERM`);
  }

  /** Prints the last lines of each process (for a failed test). */
  dump(tail = 30, out: NodeJS.WritableStream = process.stderr): void {
    for (const name of this.envs.keys()) {
      const lines = this.lines(name).slice(-tail);
      out.write(`\n--- ${name}: last ${lines.length} lines ---\n`);
      for (const line of lines)
        out.write(`[${line.run}${line.stream === 'stderr' ? ' err' : ''}] ${line.text}\n`);
    }
  }
}
