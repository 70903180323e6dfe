/**
 * The zmx executable's entry (bin/zmx runs its bundle): runs the command
 * line in program.ts and exits with its status. program.ts has no side
 * effect on import, so tests can run many command lines in one process
 * (test/helpers/cli-batch.ts).
 */
import { main } from './program.js';

// A reader that stops early (`zmx help | head -3`) closes the pipe: that is
// the end of the output, not an error to crash on.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const status = await main(process.argv.slice(2));
process.exitCode = status;
// Sockets are closed; anything left (a pipe on stdin) must not keep us alive.
setImmediate(() => process.exit(status));
