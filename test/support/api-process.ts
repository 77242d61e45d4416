// A project entry point run as its own process (`node --import tsx <script>` from the project root),
// with the run's environment: for tests of configuration errors, migrations and shutdown.
import { spawn, type ChildProcess } from 'node:child_process';
import { projectRoot } from '../../lib/paths.js';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class NodeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  stdout = '';
  stderr = '';
  private exit: Exit | null = null;

  constructor(script: string, env: Record<string, string> = {}, args: string[] = []) {
    this.child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: projectRoot,
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal, stdout: this.stdout, stderr: this.stderr };
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** The JSON log lines written to stdout so far (complete lines only); throws on a line that is not JSON. */
  logs(): Record<string, unknown>[] {
    return this.stdout
      .slice(0, this.stdout.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Waits for a log line with this message, reacting as soon as it is written; fails if the process exits first. */
  waitForLog(message: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const stdout = this.child.stdout!;
      const finish = (outcome: () => void) => {
        clearTimeout(timer);
        stdout.off('data', check);
        this.child.off('close', check);
        outcome();
      };
      const check = () => {
        try {
          const line = this.logs().find((log) => log.message === message);
          if (line) finish(() => resolve(line));
          else if (this.exit)
            throw new Error(
              `exited (${this.exit.code ?? this.exit.signal}) before logging '${message}': ${this.stderr}`,
            );
        } catch (error) {
          finish(() => reject(error as Error));
        }
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for '${message}'`))),
        timeoutMs,
      );
      // Listeners run in order: this one after the one that appends the chunk to `this.stdout`.
      stdout.on('data', check);
      this.child.on('close', check);
      check();
    });
  }

  /** For after hooks: ends this process (and only it) if a failed test left it running. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Runs a script to its end. */
export function runNode(script: string, env: Record<string, string> = {}): Promise<Exit> {
  return new NodeProcess(script, env).exited;
}
