/**
 * Profiling aid, loaded into every node process of a test run with
 * `node scripts/test.mjs --profile` (through NODE_OPTIONS=--import, which the
 * harness passes on only then): each node process appends one line at exit
 * to the file named by ZMX_TEST_CALLS, "KIND CPU_MS ARGS": KIND is cli (a
 * `zmx` CLI process), front, ptyhost or search-worker (the server's), or
 * other (test files, helpers); CPU_MS its user + system time. The runner
 * says how many CLI start-ups each test file costs and where the run's CPU
 * went. A process killed by a signal it does not handle writes nothing.
 */
import { appendFileSync } from 'node:fs';

const log = process.env['ZMX_TEST_CALLS'];

function kind(script: string): string {
  if (/[\\/]bin[\\/]zmx$/.test(script)) return 'cli';
  const entry = /[\\/](?:bundle[\\/](front|ptyhost|search-worker)|src[\\/](?:server|ptyhost)[\\/]main|src[\\/]portal[\\/](search-worker))\.js$/.exec(script);
  if (!entry) return 'other';
  if (entry[1] || entry[2]) return (entry[1] ?? entry[2])!;
  return script.includes('server') ? 'front' : 'ptyhost';
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
