/**
 * Tunables, each with the reason for its value (as VS Code keeps
 * FlowControlConstants). Nothing below should appear as a bare number
 * in the middle of other code.
 */

/** The shortest ZMX_TEST_TIMESCALE taken: below it the heartbeat (2 s × scale) would beat faster than a loaded machine schedules. */
const MIN_TIMESCALE = 0.05;

/**
 * For tests only: ZMX_TEST_TIMESCALE=0.1 shortens the waits of the
 * protocol's liveness timers marked "× TIMESCALE" below (heartbeats, the
 * front's resume graces, the pty host's unused exit) by that factor, so a
 * test of what happens after them sits out seconds, not half a minute.
 * Read once, when this module loads, in every process (the CLI, and the
 * front and pty host it starts, which inherit the environment). It can only
 * shorten: anything but a number from MIN_TIMESCALE to 1 counts as 1. It
 * changes when those timers fire, never what they do; request and start-up
 * deadlines are not scaled (a loaded machine must not turn them into
 * failures). CONTRIBUTING.md, "Test suite".
 */
export const TIMESCALE = parseTimescale(process.env['ZMX_TEST_TIMESCALE']);

export function parseTimescale(value: string | undefined): number {
  const n = value === undefined || value.trim() === '' ? NaN : Number(value);
  return Number.isFinite(n) && n >= MIN_TIMESCALE && n <= 1 ? n : 1;
}

/** `ms` × TIMESCALE, in whole milliseconds (socket options take integers). */
export function scaled(ms: number): number {
  return Math.max(1, Math.round(ms * TIMESCALE));
}

export const LIMITS = {
  /**
   * Largest message: libzmq drops a peer that sends a bigger frame
   * (ZMQ_MAXMSGSIZE is per frame); decode refuses a bigger total (ETOOBIG).
   */
  maxMessageBytes: 64 * 1024 * 1024,
  /** A header is a small map; anything larger is hostile or a bug. */
  maxHeaderBytes: 64 * 1024,
  /**
   * A reply whose result packs larger than this carries it in a body frame
   * instead (ReplyMsg.body): a list of hundreds of sessions is data, not a
   * header, and must not meet maxHeaderBytes.
   */
  maxInlineResultBytes: 16 * 1024,
  /** Header frame plus payload frames. */
  maxFrames: 16,
  /** Longest string field in a header (error messages, agent names). */
  maxHeaderString: 16 * 1024,
  /** Error messages are cut to this many characters (they may quote input). */
  maxErrorMessage: 1024,
  /** Longest string argument (scripts typed by `run` included). */
  maxArgString: 1024 * 1024,
  /** Longest list or map in arguments. */
  maxListLength: 4096,
  /** Upper bound on integer arguments (cols, rows...). */
  maxUint: 0xffff_ffff,
  /** Largest file `zmx write` sends in one message. */
  maxWriteBytes: 32 * 1024 * 1024,
  /**
   * Sessions one server holds: each is a pty, a process and a terminal
   * emulator with its scrollback (megabytes), so an admitted key cannot
   * create them without end. One more create answers ETOOBIG.
   */
  maxSessions: 256,
  /** Longest session name; it becomes part of file names and URIs. */
  maxSessionName: 200,
  /** Largest terminal we agree to emulate. */
  maxCols: 2000,
  maxRows: 1000,
} as const;

export const TIMING = {
  /** How long a CLI command waits for a reply before ETIMEDOUT. */
  requestTimeoutMs: 15_000,
  /** How long the CLI waits for a freshly spawned server to say it is ready. */
  serverStartTimeoutMs: 15_000,
  /** ZMTP heartbeat interval on every socket: a dead peer is noticed within a few of these (× TIMESCALE). */
  heartbeatIntervalMs: scaled(2_000),
  /** A peer silent for this long is considered gone (× TIMESCALE). */
  heartbeatTimeoutMs: scaled(6_000),
  /** Grace after SIGTERM before `kill --force` style SIGKILL. */
  killGraceMs: 2_000,
  /** How long `run` waits for a new session's shell to show its first prompt. */
  shellReadyMs: 3_000,
  /** While the link to a local server is down, how often to check that one runs (and start it). */
  recoverRetryMs: 500,
  /** An attached client's re-attach that failed with the link up (the pty host went away under it: an upgrade): when to try again. */
  reattachRetryMs: 250,
  /** Lingering on close: 0 so exiting processes never hang on unsent messages. */
  lingerMs: 0,
  /** How long the CLI waits for a workspace op (git worktree add, a snapshot of a large tree): minutes, not seconds. */
  workspaceOpMs: 300_000,
} as const;

export const TERMINAL = {
  /** Size used when a session is created without a client terminal (e.g. `new -d`). */
  defaultCols: 80,
  defaultRows: 24,
  /**
   * Lines of history (scrollback) each pane's emulator keeps unless the
   * `history-limit` setting says otherwise: zmx's default, and tmux's. An
   * idle pane's memory grows with it (about 0.5 KiB per 80-column line in
   * xterm's buffer), so the default is what most sessions need, not the most
   * anyone might.
   */
  scrollbackLines: 2_000,
  /** The byte that detaches a raw client: C-\ (as zmx). */
  detachByte: 0x1c,
} as const;

/**
 * Flow control and resume on the client ↔ front link (as VS Code keeps
 * FlowControlConstants). docs/protocol.md, "Credits" and "Resume".
 */
export const FLOW = {
  /**
   * Output bytes a stream may have in flight (sent, not yet acknowledged as
   * consumed). Past it the front stops sending that stream and later sends a
   * Resync (the current screen) instead of the backlog. 4 MiB holds a few
   * seconds of a busy pane across a dropped link, yet bounds what a stopped
   * client costs the server.
   */
  streamWindowBytes: 4 * 1024 * 1024,
  /** A stream that fell behind is resynced once its in-flight bytes drop to this share of the window. */
  resyncBelowFraction: 0.5,
  /** The client acknowledges a stream's output after this many bytes (and when it goes idle). */
  ackEveryBytes: 256 * 1024,
  /**
   * ...and otherwise this long after the first unacknowledged chunk: an Ack
   * per echoed keystroke would be one more message on the keystroke path,
   * landing on the pty host as the next key does; the window (4 MiB) is far
   * from filling in 20 ms of typing.
   */
  ackIdleMs: 20,
  /** A side confirms receipt (Received) after this many sequenced messages... */
  receivedEveryMessages: 64,
  /**
   * ...or after this many bytes of them: the sender keeps each message until
   * confirmed, so 64 portal chunks of 1 MiB would be 64 MiB held for nothing.
   */
  receivedEveryBytes: 4 * 1024 * 1024,
  /** ...or this long after the first unconfirmed one. */
  receivedDelayMs: 50,
  /**
   * Bytes of sent, unconfirmed messages a side keeps for replay after a
   * dropped link. Past it the link cannot resume and the client starts
   * afresh (new hello, re-attach from a snapshot). Output is bounded by the
   * stream windows; this bounds replies and input.
   */
  backlogMaxBytes: 64 * 1024 * 1024,
  /**
   * How long the front keeps the state of a client it cannot hear (streams,
   * backlog) so the client can resume. After it the client is forgotten (× TIMESCALE).
   */
  resumeGraceMs: scaled(5 * 60_000),
  /**
   * The same for a client with no stream open (a CLI command): long enough to
   * outlast a request's timeout across a drop, short so that finished
   * commands do not linger (× TIMESCALE).
   */
  resumeGraceIdleMs: scaled(30_000),
  /** How often a disconnected DEALER tries again (ZMQ_RECONNECT_IVL). */
  reconnectIntervalMs: 100,
  /**
   * A CURVE handshake that has not finished by then is abandoned and tried
   * again (ZMQ_HANDSHAKE_IVL; libzmq's default, 30 s, would leave a client
   * stuck for that long after the network comes back).
   */
  handshakeTimeoutMs: 5_000,
} as const;

export const QUEUES = {
  /** Messages libzmq queues per peer before it blocks or drops (ZMQ_SNDHWM/RCVHWM). */
  highWaterMark: 100_000,
} as const;

/** The agent portal's bounds (docs/protocol.md, "Portal"). */
/** The audit log (src/portal/audit.ts); both are settings (audit-max-bytes, audit-files), these their defaults. */
export const AUDIT = {
  /** Rotated when it would grow past this: some 40 000 lines, a few days of a busy agent. */
  maxBytes: 10 * 1024 * 1024,
  /** Files kept, the current one included: 50 MiB of history at most by default. */
  files: 5,
  /**
   * How far back a front looks for a command's end sent again after a front
   * restart (its acknowledgement lost with the front that audited it): the
   * ends outstanding then are the last few records written.
   */
  endLookbackBytes: 256 * 1024,
} as const;

export const PORTAL = {
  /**
   * Largest slice one fs.read answers (and one upload chunk carries): big
   * enough that a 1 GB file is a thousand round trips, small enough that a
   * window of them stays a few MiB on either side.
   */
  chunkBytes: 1024 * 1024,
  /** Reads (or upload chunks) a client keeps in flight: hides the round trip without holding much memory. */
  window: 8,
  /** fs.readFiles: at most this many bytes of each file... */
  readFilesPerFileBytes: 1024 * 1024,
  /** ...and of all of them together (the rest are marked truncated). */
  readFilesTotalBytes: 16 * 1024 * 1024,
  /** fs.list answers at most this many entries unless asked for fewer. */
  listMaxEntries: 10_000,
  /** fs.grep answers at most this many matches unless asked for fewer. */
  grepMaxResults: 1_000,
  /** Files larger than this are skipped by grep (logs, binaries). */
  grepMaxFileBytes: 8 * 1024 * 1024,
  /** A matched line longer than this is cut in the answer. */
  grepMaxLineChars: 1_000,
  /** fs.edit reads the file whole: larger ones are refused (ETOOBIG). */
  editMaxBytes: 32 * 1024 * 1024,
  /** An upload no chunk arrived for in this long is abandoned and its temp file removed. */
  uploadIdleMs: 5 * 60_000,
  /** Output of a command kept per stream, for exec.read from any offset; past it output is dropped (`truncated`). */
  execKeepBytes: 16 * 1024 * 1024,
  /** How long an exec.read waits for new output before it answers with none. */
  execReadMaxWaitMs: 10_000,
  /** A finished command is kept this long for exec.read/list, then forgotten. */
  execKeepDoneMs: 10 * 60_000,
  /** Commands one server runs at once; one more answers ETOOBIG. */
  execMaxRunning: 64,
  /** After a timeout or kill, SIGTERM to the group, then SIGKILL after this. */
  execKillGraceMs: 2_000,
  /** Watches one client holds at once. */
  maxWatchesPerClient: 64,
  /** Audit reads answer at most this many lines at a time. */
  auditReadMaxLines: 1_000,
  /**
   * After a command's main process exits, how long its stdout/stderr pipes may
   * stay open before the command is taken as ended anyway: output written just
   * before the exit is still read, yet a background grandchild that keeps the
   * pipes open does not hold the result back forever.
   */
  execDrainMs: 100,
  /**
   * While a killed command's process group still has live members (its main
   * process gone, a grandchild not yet), how often to look again: there is no
   * event for the death of a process that is not our child.
   */
  execGroupPollMs: 20,
  /** grep takes a file with a NUL byte in its first this many bytes for binary and skips it (as git and grep do). */
  grepBinaryCheckBytes: 8 * 1024,
  /**
   * Directories one recursive fs.watch follows (one inotify watch each, a
   * per-user resource); deeper ones past it are not watched.
   */
  watchMaxDirs: 10_000,
  /** Uploads one client holds open at once (each holds a file descriptor and a temp file). */
  maxUploadsPerClient: 64,
  /**
   * Worker threads for grep, list and readFiles (src/portal/pool.ts): a few,
   * since each is a V8 heap of its own; more than searchesPerKey, so one key
   * cannot hold them all.
   */
  searchWorkers: 4,
  /** Searches (grep, list, readFiles) one key has under way at once, running or queued; one more answers ETOOBIG. */
  searchesPerKey: 2,
  /** Searches waiting for a worker, all keys together; one more answers ETOOBIG. */
  searchQueueMax: 64,
  /** A search still running this long after it was asked is stopped (ETIMEDOUT): a pattern that backtracks ends here. */
  searchDeadlineMs: 30_000,
  /** Heap of one search worker: an 8 MiB file as a string and its lines fit; a search that needs more is stopped (ETOOBIG). */
  searchWorkerHeapMb: 256,
  /** A search worker idle this long exits (its heap is returned); the next search starts one. */
  searchWorkerIdleMs: 60_000,
  /** list, grep and watch do not enter directories nested deeper than this under their path (each level holds a descriptor). */
  walkMaxDepth: 128,
} as const;
