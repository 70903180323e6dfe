/**
 * `zmx attach --raw`: one pane passed straight through to the user's
 * terminal (native scrollback, every feature of the terminal), as zmx does.
 * On attach the server's snapshot redraws the screen, cursor, title and
 * modes exactly; C-\ detaches. The client re-attaches by itself when the
 * front is replaced, and follows zmx's switch (`zmx attach B` typed inside
 * the session moves this client to B).
 */
import { spawnSync } from 'node:child_process';
import { TERMINAL, TIMING } from '../common/constants.js';
import { ZmxError } from '../common/errors.js';
import type { CreateArgs, StreamEndReason } from '../common/protocol.js';
import type { Connection, StreamHandlers } from './connection.js';
import { TerminalOutput } from './terminal-output.js';

/** C-\ as the kitty keyboard protocol (CSI-u) and xterm's modifyOtherKeys send it. */
const DETACH_SEQUENCES = [/^\x1b\[92;5(:\d+)?u/, /^\x1b\[27;5;92~/];
/** Home and clear: the screen a snapshot is drawn on. */
const CLEAR = '\x1b[H\x1b[2J';
/** Full reset: modes the pane's program set (alternate screen, mouse...) must not outlive the client. */
const RESET = '\x1bc';

/**
 * Turns off the terminal's output processing (termios OPOST), as tmux and
 * dtach do for their clients: the pane's bytes were processed by its own
 * pty already, so here a newline (already CR LF) became CR CR LF and the
 * kernel handled the output byte by byte — most of this client's CPU in a
 * flood. Node's raw mode leaves OPOST on and has no call for it: stty does
 * it, on the terminal raw mode was set on, after setRawMode(true), so that
 * setRawMode(false) (or Node's exit) brings the terminal's own settings back.
 */
function passOutputThrough(stdin: NodeJS.ReadStream): void {
  spawnSync('stty', ['-opost'], { stdio: [stdin, 'ignore', 'ignore'] });
}

export function isDetachKey(data: Buffer): boolean {
  if (data.length > 0 && data[0] === TERMINAL.detachByte) return true;
  const text = data.toString('latin1');
  return DETACH_SEQUENCES.some((re) => re.test(text));
}

export interface RawAttachOptions {
  name: string;
  create: CreateArgs | null;
  readOnly: boolean;
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  detachKey: boolean;
  /** Called with `session "NAME" created` before the screen is taken over. */
  onCreated?(): void;
}

export interface RawAttachEnd {
  reason: StreamEndReason;
  exitCode: number | null;
  /** The session attached last (it changes when the client is switched). */
  name: string;
}

export async function rawAttach(conn: Connection, opts: RawAttachOptions): Promise<RawAttachEnd> {
  const { stdin, stdout } = opts;
  const size = () => ({ cols: stdout.columns || TERMINAL.defaultCols, rows: stdout.rows || TERMINAL.defaultRows });
  const first = await conn.request('session.attach', { name: opts.name, ...size(), create: opts.create, readOnly: opts.readOnly, mode: 'raw' }, [], { timeoutMs: 0 });
  if (first.result.created) opts.onCreated?.();
  let name = opts.name;
  let sid = first.result.sid;
  const wasRaw = stdin.isTTY ? stdin.isRaw : false;
  if (stdin.isTTY) stdin.setRawMode(true);
  // Only from cooked mode: libuv restores the settings it saved on leaving it.
  if (stdin.isTTY && !wasRaw) passOutputThrough(stdin);
  // Clear, then draw the server's copy of the screen: scrollback, screen, cursor, modes, title.
  stdout.write(CLEAR);
  if (first.frames[0]?.length) stdout.write(first.frames[0]);

  return await new Promise<RawAttachEnd>((resolve) => {
    const terminal = new TerminalOutput(stdout, conn);
    let finished = false;
    /** Set while no stream is live: a re-attach or a switch is under way. */
    let between = false;
    /** Set while the link is down; on a resumable link keys typed meanwhile are delivered when it resumes. */
    let linkDown = false;
    /** Where the server asked this client to go next. */
    let switchTo: string | null = null;

    const onResize = () => { if (!between) conn.resize(sid, size().cols, size().rows); };
    const onData = (data: Buffer) => {
      if (opts.detachKey && isDetachKey(data)) {
        // With no live link there is no one to answer the Detach: leave at once.
        if (between || linkDown) finish('detached', null);
        else conn.detach(sid);
        return;
      }
      // Keys typed while no stream is live are dropped, not queued for a server that would refuse them.
      if (!opts.readOnly && !between && (!linkDown || conn.resumes)) conn.input(sid, data);
    };
    const onEnd = () => conn.detach(sid);
    const finish = (reason: StreamEndReason, exitCode: number | null) => {
      if (finished) return;
      finished = true;
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdout.off('resize', onResize);
      stdin.pause();
      if (stdin.isTTY) stdin.setRawMode(wasRaw);
      stdout.write(RESET);
      terminal.flush();
      resolve({ reason, exitCode, name });
    };

    /** Set while an attach request is in flight: one at a time, or the server would count this client twice. */
    let attaching = false;

    /** Attaches (again) to `target` and redraws from its snapshot. */
    const attachTo = (target: string) => {
      between = true;
      if (attaching) return;
      attaching = true;
      // The old stream has ended (or the front that knew it has gone); dropped
      // now, as the new one may reuse its number and send right behind the reply.
      conn.dropStream(sid);
      conn.request('session.attach', { name: target, ...size(), create: null, readOnly: opts.readOnly, mode: 'raw' }, [], { timeoutMs: 0 })
        .then(({ result, frames }) => {
          attaching = false;
          if (finished) return;
          // Another session: reset what the last one's programs set, as zmx does.
          stdout.write(target === name ? CLEAR : RESET + CLEAR);
          sid = result.sid;
          name = target;
          if (frames[0]?.length) stdout.write(frames[0]);
          between = false;
          conn.stream(sid, handlers);
        }, (err: unknown) => {
          attaching = false;
          if (err instanceof ZmxError && err.code === 'EUNAVAIL') {
            // The link dropped under the request: its return attaches again.
            // With the link up, the pty host went away under it (an upgrade): again shortly.
            if (!linkDown && !finished) setTimeout(() => { if (!finished && !linkDown) attachTo(target); }, TIMING.reattachRetryMs);
            return;
          }
          finish('error', null);
        });
    };

    const handlers: StreamHandlers = {
      output: (_seq, data) => terminal.write(sid, data),
      // Too far behind (this process was stopped, or the terminal too slow): the current screen.
      resync: (_seq, screen) => {
        terminal.write(sid, CLEAR);
        terminal.write(sid, screen);
      },
      end: (reason, exitCode) => {
        if (reason === 'replaced' && switchTo !== null) {
          const target = switchTo;
          switchTo = null;
          attachTo(target);
          return;
        }
        if (reason === 'error' && !between) {
          // The server dropped us (we were silent too long: suspended, or
          // stopped) or lost the pty host: greet it again and re-attach; if
          // the session is gone, that fails and we end.
          between = true;
          conn.rehello().then(() => attachTo(name), () => finish('error', exitCode));
          return;
        }
        finish(reason, exitCode);
      },
    };

    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdout.on('resize', onResize);
    stdin.resume();
    // Last: this may deliver output (and even the end) that came right behind the reply.
    conn.stream(sid, handlers);

    conn.onEvent((event, data) => {
      if (event === 'session.switch' && data['sid'] === sid && typeof data['to'] === 'string') switchTo = data['to'];
    });
    // The front went away (it was killed or restarted): when a new one
    // answers, attach again and redraw from its snapshot.
    conn.onLink((state) => {
      if (state === 'lost') linkDown = true;
      else {
        linkDown = false;
        // Resumed: the stream goes on where it was. Restored: a new front; attach again.
        if (state === 'restored' && !finished) attachTo(name);
      }
    });
  });
}
