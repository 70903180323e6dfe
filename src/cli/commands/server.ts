import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import type { Context } from '../context.js';
import { checkTcpEndpoint, readListen, writeListen } from '../../platform/listen.js';
import { isAlive, readPid } from '../../platform/daemon.js';
import { KeyStore, fingerprint } from '../../platform/keystore.js';
import { TIMING } from '../../common/constants.js';
import { ensurePrivateDir } from '../../common/paths.js';

/** How often `server start` checks that a stopped front has exited before starting the next. */
const EXIT_POLL_MS = 50;

async function frontGone(ctx: Context): Promise<void> {
  const deadline = Date.now() + TIMING.serverStartTimeoutMs;
  while (isAlive(readPid(ctx.paths.frontPid))) {
    if (Date.now() > deadline) throw new UsageError(`the server (pid ${readPid(ctx.paths.frontPid)}) did not stop; see ${ctx.paths.frontLog}`);
    await new Promise((r) => setTimeout(r, EXIT_POLL_MS));
  }
}

const start: CommandSpec = {
  name: 'start',
  aliases: [],
  summary: 'Start this machine\'s server in the background',
  args: [],
  options: [{ flags: '--listen <address>', description: 'also listen for remote clients on tcp://ADDRESS:PORT (CurveZMQ; only authorized keys get in)' }],
  details: 'Sessions live in the server\'s pty host: starting the front again (to listen elsewhere) ends none of them. The address is kept until the next --listen.',
  examples: ['zmx server start --listen tcp://0.0.0.0:7750', 'zmx server start'],
  async run(ctx, _args, opts) {
    const listen = opts['listen'] === undefined ? null : checkTcpEndpoint(opts['listen'] as string);
    if (listen && readListen(ctx.paths.listenFile).join() !== listen) {
      ensurePrivateDir(ctx.paths.dir);
      writeListen(ctx.paths.listenFile, [listen]);
      // A running front binds at start: stop it (sessions stay) so the next one listens there.
      const running = await ctx.connect(false);
      if (running) {
        running.stopRecovering();
        await running.request('server.stop', {});
        await frontGone(ctx);
        await ctx.dispose();
      }
    }
    const conn = (await ctx.connect(true))!;
    const info = (await conn.request('server.info', {})).result;
    if (listen && !info.endpoints.includes(listen)) throw new UsageError(`the server does not listen on ${listen}; see ${ctx.paths.frontLog}`);
    const key = new KeyStore().publicKeyOrCreate('server');
    ctx.out(`server running (pid ${info.pid}, pty host ${info.ptyhostPid})\n`);
    for (const e of info.endpoints.filter((x) => x.startsWith('tcp://'))) ctx.out(`listening on ${e}\n`);
    ctx.out(`server key ${key} (${fingerprint(key)})\n`);
    return 0;
  },
};

const stop: CommandSpec = {
  name: 'stop',
  aliases: [],
  summary: 'Stop this machine\'s server front (sessions keep running)',
  args: [],
  options: [],
  details: 'The pty host and every session keep running; the next command starts a front again. End sessions with zmx kill.',
  async run(ctx) {
    const conn = await ctx.connect(false);
    if (!conn || !isAlive(readPid(ctx.paths.frontPid))) throw new UsageError(`no server running in ${ctx.paths.dir}`);
    // Our own link must not bring a front back as this one goes.
    conn.stopRecovering();
    await conn.request('server.stop', {});
    await frontGone(ctx);
    ctx.out('server stopped\n');
    return 0;
  },
};

const upgrade: CommandSpec = {
  name: 'upgrade',
  aliases: [],
  summary: 'Restart the server on this install\'s code, keeping every session',
  args: [],
  options: [],
  details: 'Restarts the front, then has the pty host hand every pty over to a new pty host running this install\'s code: the programs, their screens and scrollback, windows, layouts and labels survive. Attached clients attach again by themselves. Requests the old pty host had not answered (a zmx wait, a run --wait) fail and can be repeated; zmx fs watch ends. It is refused while a portal command (zmx exec, MCP run_command) runs: wait for it or kill it. The old pty host stays as a small reaper until the last program it started ends, to report how each ended.',
  examples: ['zmx server upgrade'],
  async run(ctx) {
    // A running front is stopped first (sessions stay), so the one started next runs this install's code.
    if (isAlive(readPid(ctx.paths.frontPid))) {
      const running = await ctx.connect(false);
      if (running) {
        // Our own link must not bring a front back as this one goes.
        running.stopRecovering();
        await running.request('server.stop', {});
        await frontGone(ctx);
        await ctx.dispose();
      }
    }
    const conn = (await ctx.connect(true))!;
    const r = (await conn.request('server.upgrade', {})).result;
    const info = (await conn.request('server.info', {})).result;
    if (r.to === 0) ctx.out(`server restarted (pid ${info.pid}); no pty host was running\n`);
    else ctx.out(`server upgraded: front pid ${info.pid}, pty host ${r.from} -> ${r.to}, ${r.panes} ${r.panes === 1 ? 'pane' : 'panes'} kept\n`);
    return 0;
  },
};

const status: CommandSpec = {
  name: 'status',
  aliases: [],
  summary: 'Show whether this machine\'s server runs, and where it listens',
  args: [],
  options: [{ flags: '--json', description: 'machine-readable JSON' }],
  async run(ctx, _args, opts) {
    if (!isAlive(readPid(ctx.paths.frontPid))) throw new UsageError(`no server running in ${ctx.paths.dir}; start one with: zmx server start`);
    const conn = (await ctx.connect(false))!;
    const info = (await conn.request('server.info', {})).result;
    const sessions = (await conn.request('session.list', {})).result.sessions;
    const key = new KeyStore().publicKeyOrCreate('server');
    const report = { ...info, sessions: sessions.length, clients: sessions.reduce((n, s) => n + s.clients, 0), serverKey: key, rttMs: conn.rttMs };
    if (opts['json']) {
      ctx.out(JSON.stringify(report, null, 2) + '\n');
      return 0;
    }
    ctx.out(`server running: pid ${info.pid}, pty host ${info.ptyhostPid}, version ${info.version}, protocol ${info.protocol}\n`);
    for (const e of info.endpoints) ctx.out(`endpoint ${e}\n`);
    ctx.out(`sessions ${report.sessions}, clients ${report.clients}\n`);
    ctx.out(`server key ${key} (${fingerprint(key)})\n`);
    return 0;
  },
};

export const server: CommandSpec = {
  name: 'server',
  aliases: [],
  summary: 'Start, stop, upgrade or inspect this machine\'s server',
  args: [],
  options: [],
  subcommands: [start, stop, upgrade, status],
};
