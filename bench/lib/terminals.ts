/**
 * Each contender as "something that keeps a session and lets a terminal
 * attach to it": zmx (full-screen client, raw, raw over TCP with Curve),
 * tmux, screen, dtach, and the bare pty (the program run in the terminal
 * itself: the floor every tool adds to).
 */
import type { Cleanup } from './procs.js';
import { freePort } from './procs.js';
import { OuterPty, echoKeystrokes } from './pty.js';
import { Zmx, ZMX_BIN, pairedClient } from './zmx.js';
import { Dtach, Screen, Tmux } from './peers.js';

/** Host name the TCP client gives the loopback server. */
const TCP_HOST = 'bench';
/** Untimed keystrokes after attaching, so the first timed one meets a warm path. */
export const WARMUP_KEYS = 5;

export interface SessionKeeper {
  name: string;
  zmx: boolean;
  /** Which tool must be present (see PEERS) for this one to run. */
  needs?: string;
  /** The terminal stays in the tty's cooked mode (the bare pty: no client takes it). */
  cooked?: boolean;
  start(cleanup: Cleanup): Promise<void>;
  /** A detached session running a shell command line. */
  newSession(name: string, command: string): Promise<void>;
  /** A terminal attached to the session (for the bare pty: running the command). */
  attach(name: string, cleanup: Cleanup): OuterPty;
  /** The zmx or tmux server, for RSS. */
  zmxServer?: Zmx;
  tmuxServer?: Tmux;
}

type Variant = 'tui' | 'raw' | 'tcp';

export function zmxKeeper(variant: Variant): SessionKeeper {
  let server: Zmx;
  let client: Zmx;
  const keeper: SessionKeeper = {
    name: variant === 'tui' ? 'zmx (TUI)' : variant === 'raw' ? 'zmx (raw)' : 'zmx (raw, TCP+Curve)',
    zmx: true,
    async start(cleanup) {
      server = new Zmx(cleanup, variant);
      if (variant === 'tcp') {
        const address = `tcp://127.0.0.1:${await freePort()}`;
        await server.start(address);
        client = await pairedClient(cleanup, server, address, TCP_HOST);
      } else {
        await server.start();
        client = server;
      }
      keeper.zmxServer = server;
    },
    async newSession(name, command) {
      await server.create(name, ['sh', '-c', command]);
    },
    attach(name, cleanup) {
      const args = variant === 'tui' ? ['attach', name] : variant === 'raw' ? ['attach', '--raw', name] : ['attach', '-H', TCP_HOST, '--raw', name];
      return new OuterPty(ZMX_BIN, args, client.env, client.home, cleanup);
    },
  };
  return keeper;
}

export function tmuxKeeper(): SessionKeeper {
  let tmux: Tmux;
  const keeper: SessionKeeper = {
    name: 'tmux',
    zmx: false,
    needs: 'tmux',
    async start(cleanup) { tmux = new Tmux(cleanup); keeper.tmuxServer = tmux; },
    async newSession(name, command) { await tmux.newSession(name, command); },
    attach(name, cleanup) { const [f, a] = tmux.attachArgv(name); return new OuterPty(f, a, tmux.env, tmux.dir, cleanup); },
  };
  return keeper;
}

export function screenKeeper(): SessionKeeper {
  let screen: Screen;
  return {
    name: 'screen',
    zmx: false,
    needs: 'screen',
    async start(cleanup) { screen = new Screen(cleanup); },
    async newSession(name, command) { await screen.newSession(name, command); },
    attach(name, cleanup) { const [f, a] = screen.attachArgv(name); return new OuterPty(f, a, screen.env, screen.dir, cleanup); },
  };
}

export function dtachKeeper(): SessionKeeper {
  let dtach: Dtach;
  return {
    name: 'dtach',
    zmx: false,
    needs: 'dtach',
    async start(cleanup) { dtach = new Dtach(cleanup); },
    async newSession(name, command) { await dtach.newSession(name, command); },
    attach(name, cleanup) { const [f, a] = dtach.attachArgv(name); return new OuterPty(f, a, dtach.env, dtach.dir, cleanup); },
  };
}

export function barePty(): SessionKeeper {
  const commands = new Map<string, string>();
  let dir = '/tmp';
  return {
    name: 'bare pty',
    zmx: false,
    cooked: true,
    async start() { dir = process.env['TMPDIR'] ?? '/tmp'; },
    async newSession(name, command) { commands.set(name, command); },
    attach(name, cleanup) { return new OuterPty('sh', ['-c', commands.get(name)!], { PATH: process.env['PATH'], HOME: dir, TERM: 'xterm-256color', LANG: process.env['LANG'] ?? 'C.UTF-8' }, dir, cleanup); },
  };
}

/**
 * A terminal attached to the session and ready for keys: its client has
 * taken the tty (raw mode) and drawn, and a first key came back.
 */
export async function attachReady(k: SessionKeeper, name: string, cleanup: Cleanup, timeoutMs: number): Promise<OuterPty> {
  const term = k.attach(name, cleanup);
  // Every contender's keys and lines are checked on its screen (echoKeystrokes).
  term.trackScreen();
  if (!k.cooked) await term.waitForRawMode(timeoutMs);
  await term.echo('z', timeoutMs);
  await term.settle();
  await echoKeystrokes(term, WARMUP_KEYS);
  return term;
}

/** The reason a keeper cannot run on this machine, if any. */
export function skipReason(k: SessionKeeper, missing: Record<string, string>): string | undefined {
  return k.needs && missing[k.needs] ? `not run: ${missing[k.needs]}` : undefined;
}
