// Runs the whole system for development, as the Procfile describes it:
// local services -> `release` -> demo seed -> every other process at once (prefixed, coloured).
// Procfile commands run the build (`node dist/<path>.js`); here they run the sources with tsx.
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import concurrently, { type ConcurrentlyCommandInput, type ConcurrentlyOptions } from 'concurrently';

const ENSURE_SERVICES = 'bash lib/ops/ensure-services.sh';
const SEED_DEMO = 'npm run seed:demo';
const COLORS = ['cyan', 'magenta', 'yellow', 'green', 'blue', 'red', 'white', 'gray'];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
process.chdir(root);
process.env.NODE_ENV ??= 'development';
process.env.PATH = [join(root, 'node_modules', '.bin'), process.env.PATH].join(delimiter);

interface ProcfileEntry {
  name: string;
  command: string;
}

function readProcfile(): ProcfileEntry[] {
  return readFileSync('Procfile', 'utf8')
    .split('\n')
    .map((line) => /^([\w-]+):\s*(.+?)\s*$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map(([, name, command]) => ({ name: name!, command: command! }));
}

// `[exec ]node [node options] dist/<path>.js [args]` -> `[exec ]tsx [node options] <path>.ts [args]`
function toDev(command: string): string {
  return command.replace(
    /^(exec\s+)?node\s+((?:-\S+\s+)*)dist\/(\S+)\.js(?=\s|$)/,
    (_, exec: string | undefined, opts: string, path: string) => {
      const source = [`${path}.ts`, `src/${path}.ts`].find((p) => existsSync(p)) ?? `${path}.ts`;
      return `${exec ?? ''}tsx ${opts}${source}`;
    },
  );
}

// concurrently forwards SIGINT/SIGTERM/SIGHUP to the running children; we only remember them so
// that no further step starts once one arrived.
let stopSignal: NodeJS.Signals | undefined;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => (stopSignal = signal));
}

function exitCode(): number {
  return stopSignal === 'SIGINT' ? 130 : stopSignal ? 143 : 1;
}

async function run(
  commands: ConcurrentlyCommandInput[],
  options: Partial<ConcurrentlyOptions> = {},
): Promise<void> {
  if (stopSignal) process.exit(exitCode());
  const { result } = concurrently(commands, { prefix: 'name', prefixColors: COLORS, ...options });
  try {
    await result;
  } catch {
    if (!stopSignal) console.error('dev: a process failed or exited, so everything stopped (see above)');
    process.exit(exitCode());
  }
  if (stopSignal) process.exit(exitCode());
}

const entries = readProcfile();
const release = entries.find((e) => e.name === 'release');
const processes = entries.filter((e) => e !== release);
if (processes.length === 0) throw new Error('Procfile: no processes to run');

await run([{ name: 'services', command: ENSURE_SERVICES }]);
if (release) await run([{ name: 'release', command: toDev(release.command) }]);
await run([{ name: 'seed', command: SEED_DEMO }]);
await run(
  processes.map((e) => ({ name: e.name, command: toDev(e.command) })),
  { killOthersOn: ['failure', 'success'], restartTries: 0 },
);
