/**
 * The portal's commands, run by the pty host (ops host.exec.*): the front
 * checks a request (the key's limits, its root: the paths it sends are
 * confined already) and forwards it; the commands are children of this
 * process, which outlives the front, so a front killed, stopped or upgraded
 * ends none of them, and their output and status stay readable by id
 * (PORTAL.execKeepDoneMs after their end) from the next front.
 *
 * Each command belongs to the key that started it: another key's read,
 * stdin, kill or list finds no such command unless the front says the
 * caller is `admin`.
 *
 * A command's end is an Event `exec.end` to the front, which writes its
 * audit line and acknowledges it (host.exec.ack). An end not acknowledged
 * yet — the front was gone when it came, or died before acknowledging —
 * is sent again to the next front that says Hello, so the line is written
 * once whatever happens to the front meanwhile. An end no front
 * acknowledges is given up with the command (PORTAL.execKeepDoneMs).
 */
import { ZmxError } from '../common/errors.js';
import { PORTAL } from '../common/constants.js';
import { MsgType, type Header, type OpArgs, type OpName } from '../common/protocol.js';
import type { ExecInfo, SignalName } from '../common/portal.js';
import { ExecService, type ExecServiceOptions } from '../portal/exec.js';

/** What Event `exec.end` carries (docs/protocol.md, "Events"). */
export interface ExecEnd {
  exec: ExecInfo;
  /** The key that started it (fingerprint, or 'local') and its name. */
  owner: string;
  who: string;
  session: string;
  /** What it printed, stdout and stderr together. */
  bytes: number;
  /** When it ended, ms since the epoch. */
  ended: number;
}

export interface HostCommandsOptions {
  /** Sends to the front (dropped while there is none). */
  send(header: Header): void;
  /** A command started or an end was settled: the pty host may exit once nothing holds it (`holding`). */
  onChange?(): void;
  /** Overrides of the command service's bounds, for tests. */
  exec?: ExecServiceOptions;
  now?(): number;
}

type Reply = { result: Record<string, unknown>; frames?: Buffer[] };

export class HostCommands {
  private readonly service: ExecService;
  /** Each running command's key name, for its end. */
  private readonly names = new Map<number, string>();
  /** Ends the front has not acknowledged, in the order they came; each forgotten with its command. */
  private readonly unacked = new Map<number, { end: ExecEnd; forget: NodeJS.Timeout }>();
  private readonly keepDoneMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: HostCommandsOptions) {
    this.service = new ExecService(opts.exec);
    this.keepDoneMs = opts.exec?.keepDoneMs ?? PORTAL.execKeepDoneMs;
    this.now = opts.now ?? Date.now;
    this.service.onExit((info, owner, session, bytes) => this.ended({ exec: info, owner, who: this.names.get(info.id) ?? '', session, bytes, ended: this.now() }));
  }

  /** Commands running, and ends not acknowledged: while any, the pty host stays. */
  get holding(): number {
    return this.service.runningCount + this.unacked.size;
  }

  /** Whether `op` is one of these (host.exec.*). */
  static serves(op: string): boolean {
    return op.startsWith('host.exec.');
  }

  /** Serves one host.exec.* request (its arguments already validated). */
  async dispatch(op: OpName, args: Record<string, unknown>, frames: Buffer[]): Promise<Reply> {
    switch (op) {
      case 'host.exec.start': {
        const a = args as OpArgs<'host.exec.start'>;
        const exec = await this.service.start(a.owner, a.name, {
          argv: a.argv, shell: a.shell, rootDir: a.root, cwd: a.cwd, env: a.env, timeoutMs: a.timeoutMs, stdin: a.stdin,
        }, frames[0] ?? null);
        // Set before any end can come: the end is an I/O callback, this the promise's continuation.
        this.names.set(exec.id, a.who);
        this.opts.onChange?.();
        return { result: { exec } };
      }
      case 'host.exec.read': {
        const a = args as OpArgs<'host.exec.read'>;
        this.own(a.exec, a.owner, a.admin);
        const r = await this.service.read(a.exec, a.stdout, a.stderr, a.waitMs, a.max);
        return { result: { exec: r.info, stdout: r.stdoutOffset, stderr: r.stderrOffset }, frames: [r.stdout, r.stderr] };
      }
      case 'host.exec.stdin': {
        const a = args as OpArgs<'host.exec.stdin'>;
        this.own(a.exec, a.owner, a.admin);
        return { result: { bytes: this.service.stdin(a.exec, frames[0] ?? Buffer.alloc(0), a.eof) } };
      }
      case 'host.exec.kill': {
        const a = args as OpArgs<'host.exec.kill'>;
        this.own(a.exec, a.owner, a.admin);
        this.service.kill(a.exec, a.signal as SignalName);
        return { result: {} };
      }
      case 'host.exec.list': {
        const a = args as OpArgs<'host.exec.list'>;
        const execs = this.service.list(a.name).filter((e) => a.admin || this.service.get(e.id)?.owner === a.owner);
        return { result: { execs } };
      }
      case 'host.exec.ack': {
        const id = (args as OpArgs<'host.exec.ack'>).exec;
        const pending = this.unacked.get(id);
        if (pending) {
          clearTimeout(pending.forget);
          this.unacked.delete(id);
          this.opts.onChange?.();
        }
        return { result: {} };
      }
      default:
        throw new ZmxError('EPROTO', `op "${op}" is not a command op`);
    }
  }

  /** A new front said Hello: it gets every end the last one did not acknowledge, in order. */
  frontChanged(): void {
    for (const { end } of this.unacked.values()) this.sendEnd(end, true);
  }

  /** Ends every running command (SIGTERM, SIGKILL after the grace) and waits for them; the pty host is stopping. */
  async dispose(): Promise<void> {
    await this.service.dispose();
    for (const { forget } of this.unacked.values()) clearTimeout(forget);
    this.unacked.clear();
    this.names.clear();
  }

  // ---- internals

  /** Another key's command is not there, as far as this key can tell. */
  private own(id: number, owner: string, admin: boolean): void {
    const c = this.service.get(id);
    if (!c || (c.owner !== owner && !admin)) throw new ZmxError('EINVAL', `no command ${id} (zmx exec --list shows yours)`);
  }

  private ended(end: ExecEnd): void {
    this.names.delete(end.exec.id);
    const forget = setTimeout(() => {
      this.unacked.delete(end.exec.id);
      this.opts.onChange?.();
    }, this.keepDoneMs);
    forget.unref();
    this.unacked.set(end.exec.id, { end, forget });
    this.sendEnd(end);
  }

  /** `again`: sent to a new front; the last one may have audited it and died before its acknowledgement came. */
  private sendEnd(end: ExecEnd, again = false): void {
    this.opts.send({ t: MsgType.Event, name: 'exec.end', data: { ...end, ...(again ? { again: true } : {}) } as unknown as Record<string, unknown> });
  }
}
