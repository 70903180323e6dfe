/**
 * `zmx attach --raw`: one pane passed straight through to the user's
 * terminal (native scrollback, every feature of the terminal), as zmx does.
 * On attach the server's snapshot redraws the screen, cursor, title and
 * modes exactly; C-\ detaches.
 */
import { TERMINAL } from '../common/constants.js';
import type { CreateArgs, StreamEndReason } from '../common/protocol.js';
import type { Connection } from './connection.js';

/** C-\ as the kitty keyboard protocol (CSI-u) and xterm's modifyOtherKeys send it. */
const DETACH_SEQUENCES = [/^\x1b\[92;5(:\d+)?u/, /^\x1b\[27;5;92~/];

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

export async function rawAttach(conn: Connection, opts: RawAttachOptions): Promise<{ reason: StreamEndReason; exitCode: number | null }> {
  const { stdin, stdout } = opts;
  const cols = stdout.columns || TERMINAL.defaultCols;
  const rows = stdout.rows || TERMINAL.defaultRows;
  const { result, frames } = await conn.request('session.attach', { name: opts.name, cols, rows, create: opts.create, readOnly: opts.readOnly }, [], { timeoutMs: 0 });
  if (result.created) opts.onCreated?.();
  let sid = result.sid;
  const wasRaw = stdin.isTTY ? stdin.isRaw : false;
  if (stdin.isTTY) stdin.setRawMode(true);
  // Clear, then draw the server's copy of the screen: scrollback, screen, cursor, modes, title.
  stdout.write('\x1b[H\x1b[2J');
  if (frames[0]?.length) stdout.write(frames[0]);

  return await new Promise((resolve) => {
    let finished = false;
    const onResize = () => conn.resize(sid, stdout.columns || cols, stdout.rows || rows);
    let linkDown = false;
    const onData = (data: Buffer) => {
      if (opts.detachKey && isDetachKey(data)) {
        if (linkDown) finish('detached', null);
        else conn.detach(sid);
        return;
      }
      // Keys typed while the link is down are dropped, not queued for a server that would refuse them.
      if (!opts.readOnly && !linkDown) conn.input(sid, data);
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
      // Leave the terminal as we found it: modes the pane's program set
      // (alternate screen, mouse, bracketed paste) must not leak out.
      stdout.write('\x1bc');
      resolve({ reason, exitCode });
    };
    const handlers = {
      output: (_seq: number, data: Buffer) => { stdout.write(data); },
      end: finish,
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdout.on('resize', onResize);
    stdin.resume();
    // Last: this may deliver output (and even the end) that came right behind the reply.
    conn.stream(sid, handlers);
    // The front went away (it was killed or restarted): when a new one
    // answers, attach again and redraw from its snapshot.
    conn.onLink((state) => {
      if (state === 'lost') {
        linkDown = true;
        return;
      }
      conn.request('session.attach', { name: opts.name, cols: stdout.columns || cols, rows: stdout.rows || rows, create: null, readOnly: opts.readOnly }, [], { timeoutMs: 0 })
        .then(({ result: again, frames: screen }) => {
          if (finished) return;
          conn.dropStream(sid);
          sid = again.sid;
          stdout.write('\x1b[H\x1b[2J');
          if (screen[0]?.length) stdout.write(screen[0]);
          linkDown = false;
          conn.stream(sid, handlers);
        })
        .catch(() => finish('error', null));
    });
  });
}
