/**
 * Profiling aid, loaded into every node process of a test run with
 * `node scripts/test.mjs --profile` (through NODE_OPTIONS=--import, which the
 * harness passes on only then): each node process appends one line at exit
 * to the file named by ZMX_TEST_CALLS, "KIND CPU_MS ARGS": KIND is cli (a
 * `zmx` CLI process), front or ptyhost (the server's, bundled or tsc's
 * output), or other (test files, helpers); CPU_MS its user + system time
 * (the search worker is a thread of the front: its CPU is the front's). The runner
 * says how many CLI start-ups each test file costs and where the run's CPU
 * went. A process killed by a signal it does not handle writes nothing.
 */
import { appendFileSync } from 'node:fs';

const log = process.env['ZMX_TEST_CALLS'];

/** Which process a script is, by its path. */
const KINDS: readonly [RegExp, string][] = [
  [/[\\/]bin[\\/]zmx$/, 'cli'],
  [/[\\/](?:bundle[\\/]front|src[\\/]server[\\/]main)\.js$/, 'front'],
  [/[\\/](?:bundle[\\/]ptyhost|src[\\/]ptyhost[\\/]main)\.js$/, 'ptyhost'],
];

function kind(script: string): string {
  return KINDS.find(([pattern]) => pattern.test(script))?.[1] ?? 'other';
}

if (log) {
  const what = kind(process.argv[1] ?? '');
  process.on('exit', () => {
    const { user, system } = process.cpuUsage();
    try {
      appendFileSync(log, `${what} ${Math.round((user + system) / 1000)} ${process.argv.slice(2, 4).join(' ')}\n`);
    } catch {
      /* a profile line is not worth failing a command for */
    }
  });
}
