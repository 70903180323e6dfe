/**
 * The zmx wire protocol: one module, as tmux keeps tmux-protocol.h.
 *
 * A message is a ZeroMQ multipart message. Frame 0 is a small msgpack map,
 * the header; its `t` field names the message type. Frames 1..n are raw
 * binary payloads (pty bytes, file contents, snapshots) — never base64.
 * docs/protocol.md describes every type; the round-trip test in
 * protocol.test.ts covers each of them.
 */
import { Packr } from 'msgpackr';
import { ZmxError, isErrorCode, withoutStack, type ErrorCode } from './errors.js';
import { LIMITS } from './constants.js';
import { LAYOUT_PRESETS, type Direction, type LayoutNode, type SplitDir } from './layout.js';
import { SIGNALS, type AuditEntry, type ExecInfo, type FileStat, type GrepMatch, type ReadFilesEntry, type SignalName } from './portal.js';

// The version numbers live beside the release's, in a module without the
// codec, so that `zmx version` can print them without loading msgpackr.
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from './version.js';
export { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION };

/** Capabilities announced in hello/welcome; a peer ignores ones it does not know. */
export const CAPABILITIES = ['pty', 'labels', 'run', 'history.html', 'write', 'windows', 'portal'] as const;

/**
 * Capabilities of the client ↔ front link itself, announced by both ends:
 * `resume`, link sequence numbers (`q`) and acknowledgements (Received) so
 * that a dropped connection resumes with nothing lost or repeated; `credit`,
 * per-stream flow control (Ack returns credit, Resync replaces a backlog the
 * server did not keep). A side uses them only when both announced them.
 */
export const LINK_CAPABILITIES = ['resume', 'credit'] as const;

/**
 * Direct streams (docs/protocol.md, "Direct streams"): a pty host that
 * announces it serves a second endpoint where local clients take pane
 * output and send keystrokes without the front in between; a client that
 * announces it (a local one) may be granted such streams.
 */
export const DIRECT_CAPABILITY = 'direct';

/**
 * Message types, numbered in groups (as tmux does):
 * 0x0_ connection control, 0x1_ request/reply, 0x2_ streams, 0x3_ events.
 */
export const MsgType = {
  Hello: 0x01,
  Welcome: 0x02,
  Ping: 0x03,
  Pong: 0x04,
  Received: 0x05,
  Request: 0x10,
  Reply: 0x11,
  Error: 0x12,
  Output: 0x20,
  Input: 0x21,
  Resize: 0x22,
  Detach: 0x23,
  StreamEnd: 0x24,
  Ack: 0x25,
  Resync: 0x26,
  Event: 0x30,
} as const;
export type MsgTypeName = keyof typeof MsgType;
export type MsgTypeCode = (typeof MsgType)[MsgTypeName];

// ---------------------------------------------------------------------------
// Shared shapes

export interface PaneInfo {
  id: number;
  pid: number;
  cmd: string[];
  cols: number;
  rows: number;
  title: string;
  /** OSC 7 working directory as a file:// URI, '' until the shell reports one. */
  cwdUri: string;
  exited: { exitCode: number; signal: number } | null;
  /** The `run` task typed into this pane last: its command and status (null while it runs). */
  task: { command: string; status: number | null } | null;
}

/** A window: panes tiled by a layout tree (src/common/layout.ts). */
export interface WindowInfo {
  id: number;
  /** The number users type (`NAME:1`), from 0 as in tmux. */
  index: number;
  name: string;
  layout: LayoutNode;
  /** The id of the window's active pane. */
  active: number;
  /** Set while the active pane fills the window (tmux's zoom). */
  zoomed: boolean;
  /** The preset last applied, so `space` moves to the next one. */
  preset: string;
}

export interface SessionInfo {
  name: string;
  /** Creation time, milliseconds since the epoch. */
  created: number;
  /** The directory the session started in: its root. */
  root: string;
  labels: Record<string, string>;
  panes: PaneInfo[];
  /** Clients attached through the front; the pty host reports 0. */
  clients: number;
  /** The last `run` task: its command, exit status and end time (ms), null while it runs. */
  task: { status: number | null; command: string; ended: number | null } | null;
  windows: WindowInfo[];
  /** The id of the window clients show. */
  activeWindow: number;
  /** The window area every window is laid out in (the client's terminal less its status bar). */
  cols: number;
  rows: number;
  /** The git worktree the session owns (`zmx new --worktree`); null or absent: none. */
  worktree?: WorktreeInfo | null;
  /** A portal pane's remote session, `HOST:SESSION` (`local:SESSION` for this server); null or absent: none. */
  portal?: string | null;
}

/** A session's own git worktree: its root, on `branch` of the repository at `repo`. */
export interface WorktreeInfo { path: string; branch: string; repo: string }

/** Which pane a request is about: window and pane numbers as users type them (`NAME:W.P`); null = the active one. */
export interface PaneTarget { window: number | null; pane: number | null }

/**
 * A stream the front has handed to the pty host: the client claims it with
 * `token` (stream.claim) on the pty host's direct endpoint, whose Curve
 * server key is `serverKey`, and from then on takes its output there.
 */
export interface DirectGrant { endpoint: string; serverKey: string; token: string }

/** How an attached client shows a session: one pane passed through, or the full-screen multiplexer. */
export type AttachMode = 'raw' | 'tui';
export type PaneMove = Direction | 'next' | 'prev';
export type WindowMove = 'next' | 'prev' | 'last';

export interface CreateArgs {
  name: string;
  /** argv; empty means the user's shell. */
  cmd: string[];
  cwd: string;
  env: Record<string, string>;
  cols: number;
  rows: number;
}

export type HistoryFormat = 'text' | 'vt' | 'html';

/** How a workspace is snapshotted: commits on private refs (a git root), or a copy in the server's state dir. */
export type SnapshotKind = 'git' | 'copy';

/**
 * Every request, by op name: its arguments and the result of its reply.
 * `session.*` ops are what clients send to the front; the front forwards
 * most of them to the pty host unchanged. `host.*` ops exist only on the
 * front ↔ pty host link.
 */
export interface Ops {
  'server.info': { args: Record<string, never>; result: { version: string; protocol: number; pid: number; ptyhostPid: number; endpoints: string[] } };
  /** Opens a pairing endpoint for one client (zmx pair): the code, where, and until when (ms since the epoch). */
  'server.pair': { args: Record<string, never>; result: { code: string; endpoint: string; expires: number } };
  /** Only on a pairing endpoint: authorizes the caller's key under `name`, answers the server's public key. */
  'pair.claim': { args: { name: string; key: string; proof: string; ts: number }; result: { serverKey: string } };
  'server.stop': { args: Record<string, never>; result: Record<string, never> };
  /**
   * Hands every session over to a new pty host started from the front's own
   * code (docs/protocol.md, "Upgrading the pty host"): `from`, `to` the old
   * and new pty host pids (0, 0 when none ran), `panes` handed over.
   */
  'server.upgrade': { args: Record<string, never>; result: { from: number; to: number; panes: number } };
  'session.list': { args: Record<string, never>; result: { sessions: SessionInfo[] } };
  'session.get': { args: { name: string }; result: { session: SessionInfo } };
  'session.create': { args: CreateArgs & { ifMissing: boolean }; result: { session: SessionInfo; created: boolean } };
  'session.kill': { args: { names: string[]; force: boolean }; result: { killed: string[] } };
  'session.labels': {
    args: { name: string; set: Record<string, string>; unset: string[]; clear: boolean };
    result: { labels: Record<string, string> };
  };
  /** Raw bytes in frame 1 are written to the pane's input. */
  'session.send': { args: { name: string }; result: Record<string, never> };
  /** Bytes in frame 1 are written to the pane's screen, as if the program printed them. */
  'session.print': { args: { name: string }; result: Record<string, never> };
  /** The reply carries the history in frame 1. */
  'session.history': { args: { name: string; format: HistoryFormat }; result: { bytes: number } };
  /** Types `script` into the pane's shell; `wait` replies once it has finished. */
  'session.run': {
    args: { name: string; script: string; wait: boolean };
    /**
     * Waited for: the status, the output seq of the chunk that held the
     * marker, and the output printed while it ran as [seq, length] pairs of
     * the one frame (the oldest may be dropped past a bound).
     */
    result: { status: number | null; seq?: number; chunks?: [number, number][] };
  };
  'session.wait': { args: { names: string[] }; result: { results: { name: string; status: number }[] } };
  'session.detach': { args: { name: string }; result: { detached: number } };
  /** Frame 1 holds the file's bytes; a relative path is taken from the shell's directory (OSC 7), else the root. */
  'session.write': { args: { name: string; path: string }; result: { path: string; bytes: number } };
  /**
   * Opens a pty stream. The reply's frame 1 is the current screen as VT;
   * Output messages with seq > result.seq follow on result.sid.
   */
  'session.attach': {
    args: { name: string; cols: number; rows: number; create: CreateArgs | null; readOnly: boolean; mode: AttachMode };
    result: { sid: number; seq: number; session: SessionInfo; created: boolean; direct?: DirectGrant };
  };
  /**
   * A full-screen client's view of one pane: frame 1 is its screen as VT,
   * Output with seq > result.seq follows on result.sid. `attach` is the
   * client's tui stream; Detach on the returned sid ends only this view.
   */
  'pane.subscribe': { args: { attach: number; pane: number }; result: { sid: number; seq: number; direct?: DirectGrant } };
  /** Splits a pane (tmux split-window): `h` puts the new pane to the right, `v` below. */
  'pane.split': {
    args: PaneTarget & { name: string; dir: SplitDir; cmd: string[]; cwd: string; env: Record<string, string> };
    result: { window: number; pane: number; id: number };
  };
  'window.new': { args: { name: string; title: string; cmd: string[]; cwd: string; env: Record<string, string> }; result: { window: number; id: number } };
  /** Makes a pane active: the target's, or the one in a direction from it. */
  'pane.select': { args: PaneTarget & { name: string; move: PaneMove | null }; result: { window: number; pane: number } };
  'window.select': { args: { name: string; window: number | null; move: WindowMove | null }; result: { window: number } };
  'pane.kill': { args: PaneTarget & { name: string }; result: { id: number } };
  /** tmux resize-pane: move an edge by `cells`, or toggle zoom. */
  'pane.resize': { args: PaneTarget & { name: string; dir: Direction | null; cells: number; zoom: boolean }; result: { zoomed: boolean } };
  /** Applies a preset layout to a window; `next` moves to the one after its current. */
  'window.layout': { args: { name: string; window: number | null; layout: string }; result: { layout: string } };
  /** tmux capture-pane: frame 1 is the pane's screen, as text or (escapes) with its SGR. */
  'pane.capture': { args: PaneTarget & { name: string; escapes: boolean }; result: { bytes: number } };
  /** Follows output of a session without attaching; Output on result.sid. */
  'session.tail': { args: { name: string }; result: { sid: number; seq: number } };
  /**
   * zmx's switch: `zmx attach B` typed inside session A moves A's leading
   * client to B (creating B when `create` is given). The client gets a
   * `session.switch` Event, then StreamEnd "replaced", and attaches to B.
   */
  'session.switch': { args: { from: string; to: string; create: CreateArgs | null }; result: { created: boolean } };
  /** Pty host only: subscribe the front to a pane's output; frame 1 is the screen at result.seq. */
  /** `pane` 0 = the session's active pane. */
  'host.subscribe': { args: { name: string; pane: number; interactive: boolean }; result: { paneSid: number; seq: number; session: SessionInfo } };
  'host.unsubscribe': { args: { pane: number; interactive: boolean }; result: Record<string, never> };
  /** The window area of a session (not a pane's size: panes are laid out in it). */
  'host.resize': { args: { name: string; cols: number; rows: number }; result: Record<string, never> };
  /** Frame 1 is input for pane `pane`, as if typed. */
  'host.input': { args: { pane: number }; result: Record<string, never> };
  /** Frame 1 is the pane's screen at result.seq: VT (as a subscribe's), or plain text (`text`) for a tail. */
  'host.snapshot': { args: { pane: number; text: boolean }; result: { seq: number } };
  /**
   * host.subscribe for a direct stream: the pty host keeps output after
   * result.seq for stream `sid` until the client with routing id `client`
   * (hex) and public key `key` claims it with `token`, then sends it there.
   * `lead` is the stream whose typing makes this client the size leader
   * (the stream itself, or a view's tui stream).
   */
  'host.grant': {
    args: { name: string; pane: number; interactive: boolean; sid: number; client: string; key: string; token: string; readOnly: boolean; lead: number };
    result: { paneSid: number; seq: number; session: SessionInfo };
  };
  /**
   * Pty host only, from the front alone: start pty host `script` on the same
   * ptys; answered once it has every session (`pid`, `panes`). Nothing is
   * handed over until host.handover.commit.
   */
  'host.handover': { args: { script: string }; result: { pid: number; panes: number } };
  /** Pty host only, after host.handover: let go. Not answered: the pty host closes its endpoints, and the new one binds them. */
  'host.handover.commit': { args: Record<string, never>; result: Record<string, never> };
  /** Ends direct stream `sid` without a word to its client (the front tells it). */
  'host.release': { args: { sid: number }; result: Record<string, never> };
  /** Session `name`'s size leader is stream `sid` now (0: none): the pty host reports typing on another (Event stream.typed). */
  'host.lead': { args: { name: string; sid: number }; result: Record<string, never> };
  /**
   * Pty host only: the portal's exec.* after the front's checks (the key's
   * limits, its root: `root` and `cwd` are absolute real paths the front
   * confined). Commands run in the pty host, so a front restart ends none;
   * each belongs to key `owner` (a fingerprint, or 'local'), and another
   * key's read, stdin, kill or list answers "no command N" unless `admin`.
   * `who` is the key's name, for the audit line of the command's end.
   */
  'host.exec.start': {
    args: { name: string; owner: string; who: string; argv: string[]; shell: string; root: string; cwd: string; env: Record<string, string>; timeoutMs: number; stdin: boolean };
    result: { exec: ExecInfo };
  };
  'host.exec.read': { args: { exec: number; owner: string; admin: boolean; stdout: number; stderr: number; waitMs: number; max: number }; result: { exec: ExecInfo; stdout: number; stderr: number } };
  'host.exec.stdin': { args: { exec: number; owner: string; admin: boolean; eof: boolean }; result: { bytes: number } };
  'host.exec.kill': { args: { exec: number; owner: string; admin: boolean; signal: SignalName }; result: Record<string, never> };
  'host.exec.list': { args: { name: string; owner: string; admin: boolean }; result: { execs: ExecInfo[] } };
  /** The front has written the audit line of command `exec`'s end (Event exec.end): the pty host stops sending it. */
  'host.exec.ack': { args: { exec: number }; result: Record<string, never> };
  /**
   * Direct endpoint only: takes over granted stream `sid`; its output
   * follows on this link. `key`, `proof`, `ts` prove the client's key as a
   * Hello does (libzmq does not tell which key a connection used).
   */
  'stream.claim': { args: { sid: number; token: string; key: string; proof: string; ts: number }; result: Record<string, never> };
  /** Direct endpoint only: the link came back; the client has output up to `seq`, and gets a Resync if it missed any. */
  'stream.resume': { args: { sid: number; seq: number }; result: { resync: boolean } };

  // ---- Workspaces (issue 5): worktrees, portal panes, snapshots. Served by
  // the pty host (the session's machine); the front forwards them unchanged.
  /**
   * session.create with a prepared workspace: `worktree` gives the session a
   * git worktree of `branch` in the repository at `repo` as its root (cwd is
   * not used); `portal` makes a pane whose agent's MCP tools act on `session`
   * at `host` ('' or 'local': this server). At most one of them.
   */
  'workspace.create': {
    args: CreateArgs & { worktree: { repo: string; branch: string } | null; portal: { host: string; session: string } | null };
    result: { session: SessionInfo; createdBranch: boolean; reused: boolean };
  };
  /** session.kill that also removes the sessions' worktrees (refused for uncommitted changes unless `force`); branches are kept. */
  'workspace.kill': { args: { names: string[]; force: boolean }; result: { killed: string[]; removed: { name: string; path: string; branch: string }[] } };
  /** Saves the session's root; `label` '' makes one from the time. */
  'workspace.snapshot': { args: { name: string; label: string }; result: { kind: SnapshotKind; label: string; created: number } };
  /** Restores the root to a snapshot ('' = the latest); HEAD, branch and index are untouched. */
  'workspace.rollback': { args: { name: string; label: string }; result: { kind: SnapshotKind; label: string } };
  /** Frame 1 is a unified diff of the snapshot ('' = the latest) against the root now. */
  'workspace.diff': { args: { name: string; label: string }; result: { kind: SnapshotKind; label: string; bytes: number } };
  /** The session's snapshots, oldest first. */
  'workspace.snapshots': { args: { name: string }; result: { kind: SnapshotKind; snapshots: { label: string; created: number }[] } };

  // ---- Portal (issue 5): files and commands in a session's root, answered
  // by the front (src/portal/). Paths are relative to the root (an absolute
  // one must lie inside it); one that resolves outside answers EOUTSIDE.
  /** Frame 1: up to `length` bytes from `offset` (at most PORTAL.chunkBytes); `size` is the file's. */
  'fs.read': { args: { name: string; path: string; offset: number; length: number }; result: { size: number; bytes: number; mtimeMs: number } };
  /** Frame 1: each readable file's bytes, one after another, as `files` says. */
  'fs.readFiles': { args: { name: string; paths: string[] }; result: { files: ReadFilesEntry[] } };
  /** Frame 1 is the whole content (at most LIMITS.maxWriteBytes): written to a temp file, then renamed over the path. */
  'fs.write': { args: { name: string; path: string; mode: number | null; parents: boolean }; result: { path: string; bytes: number } };
  /** A write of any size: begin, chunks (frame 1, at `offset`), commit (renames) or abort. */
  'fs.upload.begin': { args: { name: string; path: string; mode: number | null; parents: boolean }; result: { upload: number } };
  'fs.upload.chunk': { args: { upload: number; offset: number }; result: { bytes: number } };
  'fs.upload.commit': { args: { upload: number; size: number }; result: { path: string; bytes: number } };
  'fs.upload.abort': { args: { upload: number }; result: Record<string, never> };
  /** Replaces `old` by `new`; exactly `count` occurrences must exist, else EINVAL and nothing is written. */
  'fs.edit': { args: { name: string; path: string; old: string; new: string; count: number }; result: { path: string; replaced: number } };
  'fs.stat': { args: { name: string; path: string }; result: { stat: FileStat } };
  /** Entries under `path` (recursively), matching `glob` ('' = all); .git and node_modules are skipped unless `all`. */
  'fs.list': { args: { name: string; path: string; recursive: boolean; glob: string; all: boolean; max: number }; result: { entries: FileStat[]; truncated: boolean } };
  /** Lines matching the regular expression `pattern` in files under `path` matching `glob`. */
  'fs.grep': { args: { name: string; path: string; pattern: string; glob: string; ignoreCase: boolean; max: number }; result: { matches: GrepMatch[]; truncated: boolean } };
  'fs.mkdir': { args: { name: string; path: string; parents: boolean }; result: { path: string } };
  'fs.rm': { args: { name: string; path: string; recursive: boolean }; result: { path: string } };
  'fs.mv': { args: { name: string; from: string; to: string; overwrite: boolean }; result: { from: string; to: string } };
  /** fs.change events follow for changes under `path`, until fs.unwatch or the client goes. */
  'fs.watch': { args: { name: string; path: string; recursive: boolean }; result: { watch: number } };
  'fs.unwatch': { args: { watch: number }; result: Record<string, never> };
  /**
   * Starts a command in the root (`cwd` relative to it): `argv`, or `shell`
   * run by /bin/sh -c when argv is empty. Frame 1, if any, is its stdin; it
   * is closed after unless `stdin` is true (then exec.stdin sends more).
   * `timeoutMs` 0 = none; at the timeout its process group is killed.
   */
  'exec.start': {
    args: { name: string; argv: string[]; shell: string; cwd: string; env: Record<string, string>; timeoutMs: number; stdin: boolean };
    result: { exec: ExecInfo };
  };
  /**
   * Output from the given offsets of each stream (frames 1 and 2: stdout,
   * stderr). Waits up to `waitMs` for some when there is none yet; `exec.result`
   * is set once the command has ended and all its output is in the answer.
   */
  'exec.read': { args: { exec: number; stdout: number; stderr: number; waitMs: number; max: number }; result: { exec: ExecInfo; stdout: number; stderr: number } };
  /** Frame 1 goes to the command's stdin; `eof` closes it after. */
  'exec.stdin': { args: { exec: number; eof: boolean }; result: { bytes: number } };
  'exec.kill': { args: { exec: number; signal: SignalName }; result: Record<string, never> };
  /** Commands started in the session (running, and ended ones not yet forgotten). */
  'exec.list': { args: { name: string }; result: { execs: ExecInfo[] } };
  /** Audit log lines from byte `offset` (session '' = all); waits up to `waitMs` for new ones when there are none. */
  'audit.read': { args: { session: string; offset: number; waitMs: number }; result: { entries: AuditEntry[]; offset: number } };
}
export type OpName = keyof Ops;
export type OpArgs<K extends OpName> = Ops[K]['args'];
export type OpResult<K extends OpName> = Ops[K]['result'];

// ---------------------------------------------------------------------------
// Messages: a header (discriminated on t) plus raw frames

/**
 * `key`, `proof`, `ts`: the client's public key and its proof of holding the
 * secret (src/common/curve.ts); a server that enforces keys refuses a Hello
 * without them.
 */
/**
 * `resume`: the last link sequence number (q) the client received in order,
 * when it asks to carry on a connection the server may still know (same
 * routing id) after the link dropped.
 */
export interface HelloMsg { t: typeof MsgType.Hello; min: number; max: number; caps: string[]; agent: string; key?: string; proof?: string; ts?: number; resume?: number }
/** `resumed`: the server kept this client's state; `recv`: the last q it received from the client in order. */
export interface WelcomeMsg { t: typeof MsgType.Welcome; version: number; caps: string[]; agent: string; resumed?: boolean; recv?: number }
export interface PingMsg { t: typeof MsgType.Ping; ts: number }
export interface PongMsg { t: typeof MsgType.Pong; ts: number }
/** Link acknowledgement: every sequenced message up to `recv` has arrived; the sender may forget them. */
export interface ReceivedMsg { t: typeof MsgType.Received; recv: number }
/*
 * `q` on the messages below: the link sequence number, 1, 2, 3... per
 * direction, present once both sides announced `resume` (LINK_CAPABILITIES).
 */
export interface RequestMsg { t: typeof MsgType.Request; id: number; op: OpName; args: Record<string, unknown>; q?: number }
/**
 * `body`: on the wire only — the result was too large for a header
 * (LIMITS.maxInlineResultBytes) and travels msgpacked in the last frame;
 * decode puts it back, so receivers never see `body`.
 */
export interface ReplyMsg { t: typeof MsgType.Reply; id: number; result: Record<string, unknown>; body?: boolean; q?: number }
/** An error; `id` is 0 when it answers no particular request. */
export interface ErrorMsg { t: typeof MsgType.Error; id: number; code: ErrorCode; message: string; q?: number }
export interface OutputMsg { t: typeof MsgType.Output; sid: number; seq: number; q?: number }
export interface InputMsg { t: typeof MsgType.Input; sid: number; q?: number }
export interface ResizeMsg { t: typeof MsgType.Resize; sid: number; cols: number; rows: number; q?: number }
export interface DetachMsg { t: typeof MsgType.Detach; sid: number; q?: number }
export interface StreamEndMsg { t: typeof MsgType.StreamEnd; sid: number; reason: StreamEndReason; exitCode: number | null; q?: number }
/** Credit: the receiver has consumed (written out) the stream's output up to seq. */
export interface AckMsg { t: typeof MsgType.Ack; sid: number; seq: number; q?: number }
/**
 * The stream fell further behind than the server keeps: `skipped` bytes of
 * output were not sent. Frame 1 is the pane's current screen at `seq` (VT;
 * plain text for a tail stream); Output with seq > `seq` follows.
 */
export interface ResyncMsg { t: typeof MsgType.Resync; sid: number; seq: number; skipped: number; q?: number }
export interface EventMsg { t: typeof MsgType.Event; name: EventName; data: Record<string, unknown>; q?: number }

export type StreamEndReason = 'detached' | 'exited' | 'killed' | 'replaced' | 'error';
export type EventName = 'session.exit' | 'session.created' | 'task.done' | 'session.switch' | 'session.layout' | 'pane.exit' | 'fs.change' | 'stream.typed' | 'exec.end';

export type Header =
  | HelloMsg | WelcomeMsg | PingMsg | PongMsg | ReceivedMsg
  | RequestMsg | ReplyMsg | ErrorMsg
  | OutputMsg | InputMsg | ResizeMsg | DetachMsg | StreamEndMsg | AckMsg | ResyncMsg
  | EventMsg;

/** The messages that carry a link sequence number: all but the link's own control messages. */
export type SequencedHeader = Exclude<Header, HelloMsg | WelcomeMsg | PingMsg | PongMsg | ReceivedMsg>;

/** Whether a message type is numbered on a resumable link. */
export function isSequencedType(t: number): boolean {
  return t >= MsgType.Request;
}

export interface Message<H extends Header = Header> {
  header: H;
  /** Raw payload frames after the header. */
  frames: Buffer[];
}

// ---------------------------------------------------------------------------
// Validation: each header type lists its fields and their kinds.

/** A field's kind; a trailing `?` means the field may be absent. */
type FieldKind = 'uint' | 'string' | 'strings' | 'object' | 'intOrNull' | 'code' | 'reason' | 'event' | 'string?' | 'uint?' | 'bool?';

const SCHEMAS: Record<MsgTypeCode, Record<string, FieldKind>> = {
  [MsgType.Hello]: { min: 'uint', max: 'uint', caps: 'strings', agent: 'string', key: 'string?', proof: 'string?', ts: 'uint?', resume: 'uint?' },
  [MsgType.Welcome]: { version: 'uint', caps: 'strings', agent: 'string', resumed: 'bool?', recv: 'uint?' },
  [MsgType.Ping]: { ts: 'uint' },
  [MsgType.Pong]: { ts: 'uint' },
  [MsgType.Received]: { recv: 'uint' },
  [MsgType.Request]: { id: 'uint', op: 'string', args: 'object', q: 'uint?' },
  [MsgType.Reply]: { id: 'uint', result: 'object', body: 'bool?', q: 'uint?' },
  [MsgType.Error]: { id: 'uint', code: 'code', message: 'string', q: 'uint?' },
  [MsgType.Output]: { sid: 'uint', seq: 'uint', q: 'uint?' },
  [MsgType.Input]: { sid: 'uint', q: 'uint?' },
  [MsgType.Resize]: { sid: 'uint', cols: 'uint', rows: 'uint', q: 'uint?' },
  [MsgType.Detach]: { sid: 'uint', q: 'uint?' },
  [MsgType.StreamEnd]: { sid: 'uint', reason: 'reason', exitCode: 'intOrNull', q: 'uint?' },
  [MsgType.Ack]: { sid: 'uint', seq: 'uint', q: 'uint?' },
  [MsgType.Resync]: { sid: 'uint', seq: 'uint', skipped: 'uint', q: 'uint?' },
  [MsgType.Event]: { name: 'event', data: 'object', q: 'uint?' },
};

/** SCHEMAS as lists, made once: decode checks every message on the keystroke path. */
const SCHEMA_FIELDS = new Map<number, [string, FieldKind][]>(Object.entries(SCHEMAS).map(([t, fields]) => [Number(t), Object.entries(fields)]));

const REASONS: readonly StreamEndReason[] = ['detached', 'exited', 'killed', 'replaced', 'error'];
const EVENTS: readonly EventName[] = ['session.exit', 'session.created', 'task.done', 'session.switch', 'session.layout', 'pane.exit', 'fs.change', 'stream.typed', 'exec.end'];

/** A map as msgpack decodes one: not an array, buffer, Date, Set or other extension object. */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function checkField(kind: FieldKind, v: unknown): boolean {
  switch (kind) {
    case 'string?': return v === undefined || checkField('string', v);
    case 'uint?': return v === undefined || checkField('uint', v);
    case 'bool?': return v === undefined || typeof v === 'boolean';
    case 'uint': return Number.isSafeInteger(v) && (v as number) >= 0;
    case 'string': return typeof v === 'string' && v.length <= LIMITS.maxHeaderString;
    case 'strings': return Array.isArray(v) && v.length <= LIMITS.maxListLength && v.every((s) => typeof s === 'string');
    case 'object': return isPlainObject(v);
    case 'intOrNull': return v === null || Number.isSafeInteger(v);
    case 'code': return isErrorCode(v);
    case 'reason': return typeof v === 'string' && (REASONS as readonly string[]).includes(v);
    case 'event': return typeof v === 'string' && (EVENTS as readonly string[]).includes(v);
  }
}

// msgpackr: plain maps, no records/structures, so every peer can decode alone.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** Encodes a message into the frames to hand to a ZeroMQ socket. */
export function encode(header: Header, frames: readonly Buffer[] = []): Buffer[] {
  // Error messages may quote hostile input: keep them within the limit a peer accepts.
  if (header.t === MsgType.Error && header.message.length > LIMITS.maxErrorMessage) {
    header = { ...header, message: header.message.slice(0, LIMITS.maxErrorMessage) + '…' };
  }
  if (header.t === MsgType.Reply) {
    const result = packr.pack(header.result);
    if (result.length > LIMITS.maxInlineResultBytes) return [packr.pack({ ...header, result: {}, body: true }), ...frames, result];
  }
  return [packr.pack(header), ...frames];
}

/** What unpackUntrusted answers for bytes that are not msgpack. */
const UNDECODABLE = Symbol('undecodable');

/**
 * msgpackr's unpack of bytes from a peer, or UNDECODABLE. msgpackr throws
 * an Error for bad input; its stack, which is thrown away here, was a
 * tenth of the front's time under a flood of malformed messages, so none
 * is captured.
 */
function unpackUntrusted(bytes: Buffer): unknown {
  try {
    return withoutStack(() => packr.unpack(bytes));
  } catch {
    return UNDECODABLE;
  }
}

/**
 * Decodes and validates the frames of one message. Anything malformed —
 * undecodable header, unknown type, missing or mistyped field, too many
 * frames — throws ZmxError('EPROTO'); the caller answers and keeps serving.
 */
export function decode(frames: readonly Buffer[]): Message {
  if (frames.length === 0) throw new ZmxError('EPROTO', 'empty message');
  if (frames.length > LIMITS.maxFrames) throw new ZmxError('EPROTO', `too many frames (${frames.length})`);
  // libzmq's ZMQ_MAXMSGSIZE bounds each frame; the whole message is bounded here.
  let total = 0;
  for (const f of frames) total += f.length;
  if (total > LIMITS.maxMessageBytes) throw new ZmxError('ETOOBIG', `message of ${total} bytes exceeds ${LIMITS.maxMessageBytes}`);
  const head = frames[0]!;
  if (head.length > LIMITS.maxHeaderBytes) throw new ZmxError('ETOOBIG', `header of ${head.length} bytes exceeds ${LIMITS.maxHeaderBytes}`);
  const raw = unpackUntrusted(head);
  if (raw === UNDECODABLE) throw new ZmxError('EPROTO', 'header is not valid msgpack');
  if (!isPlainObject(raw)) throw new ZmxError('EPROTO', 'header is not a map');
  const t = raw['t'];
  if (typeof t !== 'number' || !Object.hasOwn(SCHEMAS, t)) throw new ZmxError('EPROTO', `unknown message type ${String(t)}`);
  for (const [field, kind] of SCHEMA_FIELDS.get(t)!) {
    if (!checkField(kind, raw[field])) throw new ZmxError('EPROTO', `field "${field}" of message 0x${t.toString(16)} must be ${kind}`);
  }
  if (t === MsgType.Reply && raw['body'] === true) return { header: withBody(raw, frames), frames: frames.slice(1, -1) };
  return { header: raw as unknown as Header, frames: frames.slice(1) };
}

/** A Reply whose result came in its last frame (encode's `body`), made whole again. */
function withBody(raw: Record<string, unknown>, frames: readonly Buffer[]): ReplyMsg {
  if (frames.length < 2) throw new ZmxError('EPROTO', 'reply announces a body frame but has none');
  const result = unpackUntrusted(frames[frames.length - 1]!);
  if (result === UNDECODABLE) throw new ZmxError('EPROTO', 'reply body is not valid msgpack');
  if (!isPlainObject(result)) throw new ZmxError('EPROTO', 'reply body is not a map');
  const { body: _body, ...rest } = raw;
  return { ...(rest as unknown as ReplyMsg), result };
}

/**
 * The request id of a message that failed to decode, when its header still
 * names one (too big, bad arguments...), so the error can answer it; else 0.
 */
export function requestIdOf(frames: readonly Buffer[]): number {
  try {
    const head = frames[0];
    if (!head || head.length > LIMITS.maxHeaderBytes) return 0;
    const raw = unpackUntrusted(head);
    if (isPlainObject(raw) && raw['t'] === MsgType.Request && Number.isSafeInteger(raw['id']) && (raw['id'] as number) >= 0) return raw['id'] as number;
  } catch {
    /* not even a header */
  }
  return 0;
}

/** Narrowing helper: `is(msg, MsgType.Output)`. */
export function is<C extends MsgTypeCode>(msg: Message, t: C): msg is Message<Extract<Header, { t: C }>> {
  return msg.header.t === t;
}

/** Picks a version both sides speak, or throws EVERSION naming both ranges. */
export function negotiateVersion(min: number, max: number): number {
  const version = Math.min(max, PROTOCOL_VERSION);
  if (version < min || version < MIN_PROTOCOL_VERSION) {
    throw new ZmxError('EVERSION', `no common protocol version: peer speaks ${min}..${max}, this side ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`);
  }
  return version;
}

// ---------------------------------------------------------------------------
// Argument validation for requests. Each op lists its fields; unknown keys
// are refused so a typo never silently does something else.

/** A field's kind; a list means one of those values. */
type ArgKind = 'string' | 'strings' | 'uint' | 'size' | 'uintOrNull' | 'time' | 'bool' | 'stringMap' | 'create' | 'createOrNull' | 'format'
  | 'worktreeOrNull' | 'portalOrNull' | readonly (string | null)[];
const TARGET: Record<string, ArgKind> = { name: 'string', window: 'uintOrNull', pane: 'uintOrNull' };
const DIRECTIONS = ['left', 'right', 'up', 'down'] as const;
const ARG_SCHEMAS: Record<OpName, Record<string, ArgKind>> = {
  'server.info': {},
  'server.stop': {},
  'server.upgrade': {},
  'server.pair': {},
  'pair.claim': { name: 'string', key: 'string', proof: 'string', ts: 'time' },
  'session.list': {},
  'session.get': { name: 'string' },
  'session.create': { name: 'string', cmd: 'strings', cwd: 'string', env: 'stringMap', cols: 'uint', rows: 'uint', ifMissing: 'bool' },
  'session.kill': { names: 'strings', force: 'bool' },
  'session.labels': { name: 'string', set: 'stringMap', unset: 'strings', clear: 'bool' },
  'session.send': { name: 'string' },
  'session.print': { name: 'string' },
  'session.history': { name: 'string', format: 'format' },
  'session.run': { name: 'string', script: 'string', wait: 'bool' },
  'session.wait': { names: 'strings' },
  'session.detach': { name: 'string' },
  'session.write': { name: 'string', path: 'string' },
  'session.attach': { name: 'string', cols: 'uint', rows: 'uint', create: 'createOrNull', readOnly: 'bool', mode: ['raw', 'tui'] },
  'pane.subscribe': { attach: 'uint', pane: 'uint' },
  'pane.split': { ...TARGET, dir: ['h', 'v'], cmd: 'strings', cwd: 'string', env: 'stringMap' },
  'window.new': { name: 'string', title: 'string', cmd: 'strings', cwd: 'string', env: 'stringMap' },
  'pane.select': { ...TARGET, move: [...DIRECTIONS, 'next', 'prev', null] },
  'window.select': { name: 'string', window: 'uintOrNull', move: ['next', 'prev', 'last', null] },
  'pane.kill': { ...TARGET },
  'pane.resize': { ...TARGET, dir: [...DIRECTIONS, null], cells: 'uint', zoom: 'bool' },
  'window.layout': { name: 'string', window: 'uintOrNull', layout: [...LAYOUT_PRESETS, 'next'] },
  'pane.capture': { ...TARGET, escapes: 'bool' },
  'session.tail': { name: 'string' },
  'session.switch': { from: 'string', to: 'string', create: 'createOrNull' },
  'host.subscribe': { name: 'string', pane: 'uint', interactive: 'bool' },
  'host.unsubscribe': { pane: 'uint', interactive: 'bool' },
  'host.resize': { name: 'string', cols: 'uint', rows: 'uint' },
  'host.input': { pane: 'uint' },
  'host.snapshot': { pane: 'uint', text: 'bool' },
  'host.grant': { name: 'string', pane: 'uint', interactive: 'bool', sid: 'uint', client: 'string', key: 'string', token: 'string', readOnly: 'bool', lead: 'uint' },
  'host.release': { sid: 'uint' },
  'host.handover': { script: 'string' },
  'host.handover.commit': {},
  'host.lead': { name: 'string', sid: 'uint' },
  'host.exec.start': { name: 'string', owner: 'string', who: 'string', argv: 'strings', shell: 'string', root: 'string', cwd: 'string', env: 'stringMap', timeoutMs: 'uint', stdin: 'bool' },
  'host.exec.read': { exec: 'uint', owner: 'string', admin: 'bool', stdout: 'size', stderr: 'size', waitMs: 'uint', max: 'uint' },
  'host.exec.stdin': { exec: 'uint', owner: 'string', admin: 'bool', eof: 'bool' },
  'host.exec.kill': { exec: 'uint', owner: 'string', admin: 'bool', signal: SIGNALS },
  'host.exec.list': { name: 'string', owner: 'string', admin: 'bool' },
  'host.exec.ack': { exec: 'uint' },
  'stream.claim': { sid: 'uint', token: 'string', key: 'string', proof: 'string', ts: 'time' },
  'stream.resume': { sid: 'uint', seq: 'uint' },
  // ---- Workspaces (issue 5)
  'workspace.create': { name: 'string', cmd: 'strings', cwd: 'string', env: 'stringMap', cols: 'uint', rows: 'uint', worktree: 'worktreeOrNull', portal: 'portalOrNull' },
  'workspace.kill': { names: 'strings', force: 'bool' },
  'workspace.snapshot': { name: 'string', label: 'string' },
  'workspace.rollback': { name: 'string', label: 'string' },
  'workspace.diff': { name: 'string', label: 'string' },
  'workspace.snapshots': { name: 'string' },
  // ---- Portal (issue 5)
  'fs.read': { name: 'string', path: 'string', offset: 'size', length: 'uint' },
  'fs.readFiles': { name: 'string', paths: 'strings' },
  'fs.write': { name: 'string', path: 'string', mode: 'uintOrNull', parents: 'bool' },
  'fs.upload.begin': { name: 'string', path: 'string', mode: 'uintOrNull', parents: 'bool' },
  'fs.upload.chunk': { upload: 'uint', offset: 'size' },
  'fs.upload.commit': { upload: 'uint', size: 'size' },
  'fs.upload.abort': { upload: 'uint' },
  'fs.edit': { name: 'string', path: 'string', old: 'string', new: 'string', count: 'uint' },
  'fs.stat': { name: 'string', path: 'string' },
  'fs.list': { name: 'string', path: 'string', recursive: 'bool', glob: 'string', all: 'bool', max: 'uint' },
  'fs.grep': { name: 'string', path: 'string', pattern: 'string', glob: 'string', ignoreCase: 'bool', max: 'uint' },
  'fs.mkdir': { name: 'string', path: 'string', parents: 'bool' },
  'fs.rm': { name: 'string', path: 'string', recursive: 'bool' },
  'fs.mv': { name: 'string', from: 'string', to: 'string', overwrite: 'bool' },
  'fs.watch': { name: 'string', path: 'string', recursive: 'bool' },
  'fs.unwatch': { watch: 'uint' },
  'exec.start': { name: 'string', argv: 'strings', shell: 'string', cwd: 'string', env: 'stringMap', timeoutMs: 'uint', stdin: 'bool' },
  'exec.read': { exec: 'uint', stdout: 'size', stderr: 'size', waitMs: 'uint', max: 'uint' },
  'exec.stdin': { exec: 'uint', eof: 'bool' },
  'exec.kill': { exec: 'uint', signal: SIGNALS },
  'exec.list': { name: 'string' },
  'audit.read': { session: 'string', offset: 'size', waitMs: 'uint' },
};

const WORKTREE_KEYS: Record<string, ArgKind> = { repo: 'string', branch: 'string' };
const PORTAL_KEYS: Record<string, ArgKind> = { host: 'string', session: 'string' };

const CREATE_KEYS: Record<string, ArgKind> = {
  name: 'string', cmd: 'strings', cwd: 'string', env: 'stringMap', cols: 'uint', rows: 'uint',
};

export function isOpName(op: string): op is OpName {
  return Object.hasOwn(ARG_SCHEMAS, op);
}

function checkArg(kind: ArgKind, v: unknown): boolean {
  if (typeof kind !== 'string') return kind.includes(v as string | null);
  switch (kind) {
    case 'string': return typeof v === 'string' && v.length <= LIMITS.maxArgString;
    case 'strings': return Array.isArray(v) && v.length <= LIMITS.maxListLength && v.every((s) => typeof s === 'string' && s.length <= LIMITS.maxArgString);
    case 'uint': return Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= LIMITS.maxUint;
    case 'uintOrNull': return v === null || checkArg('uint', v);
    case 'size': return Number.isSafeInteger(v) && (v as number) >= 0; // a byte offset: files may be larger than 4 GiB
    case 'time': return Number.isSafeInteger(v) && (v as number) >= 0; // milliseconds since the epoch
    case 'bool': return typeof v === 'boolean';
    case 'stringMap': return isPlainObject(v) && Object.keys(v).length <= LIMITS.maxListLength && Object.values(v).every((s) => typeof s === 'string' && s.length <= LIMITS.maxArgString);
    case 'create': return isPlainObject(v) && validateObject(CREATE_KEYS, v) === null;
    case 'createOrNull': return v === null || checkArg('create', v);
    case 'format': return v === 'text' || v === 'vt' || v === 'html';
    case 'worktreeOrNull': return v === null || (isPlainObject(v) && validateObject(WORKTREE_KEYS, v) === null);
    case 'portalOrNull': return v === null || (isPlainObject(v) && validateObject(PORTAL_KEYS, v) === null);
  }
}

function validateObject(schema: Record<string, ArgKind>, args: Record<string, unknown>): string | null {
  for (const key of Object.keys(args)) if (!Object.hasOwn(schema, key)) return `unknown argument "${key}"`;
  for (const [key, kind] of Object.entries(schema)) {
    if (!checkArg(kind, args[key])) return `argument "${key}" must be ${typeof kind === 'string' ? kind : `one of ${kind.map((k) => JSON.stringify(k)).join(', ')}`}`;
  }
  return null;
}

/** Throws EINVAL (or EPROTO for an unknown op) unless args fit the op's schema. */
export function validateArgs<K extends OpName>(op: string, args: Record<string, unknown>): asserts op is K {
  if (!isOpName(op)) throw new ZmxError('EPROTO', `unknown op "${op}"`);
  const problem = validateObject(ARG_SCHEMAS[op], args);
  if (problem) throw new ZmxError('EINVAL', `${op}: ${problem}`);
}

/** The list of ops, for documentation and tests. */
export const OP_NAMES = Object.keys(ARG_SCHEMAS) as OpName[];
