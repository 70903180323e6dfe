/**
 * Profiling aid, loaded into every node process of a test run with
 * `node scripts/test.mjs --profile` (through NODE_OPTIONS=--import, which the
 * harness passes on only then): each `zmx` CLI process appends one line to
 * the file named by ZMX_TEST_CALLS, so the runner can say how many CLI
 * start-ups each test file costs. Server daemons and other node processes
 * are not counted.
 */
import { appendFileSync } from 'node:fs';

const log = process.env['ZMX_TEST_CALLS'];
if (log && /[\\/]bin[\\/]zmx$/.test(process.argv[1] ?? '')) {
  try {
    appendFileSync(log, `${process.argv.slice(2, 4).join(' ')}\n`);
  } catch {
    /* a profile line is not worth failing a command for */
  }
}
