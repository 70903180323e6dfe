/**
 * Tunables, each with the reason for its value (as VS Code keeps
 * FlowControlConstants). Nothing below should appear as a bare number
 * in the middle of other code.
 */

export const LIMITS = {
  /**
   * Largest message: libzmq drops a peer that sends a bigger frame
   * (ZMQ_MAXMSGSIZE is per frame); decode refuses a bigger total (ETOOBIG).
   */
  maxMessageBytes: 64 * 1024 * 1024,
  /** A header is a small map; anything larger is hostile or a bug. */
  maxHeaderBytes: 64 * 1024,
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
  /** ZMTP heartbeat interval on every socket: a dead peer is noticed within a few of these. */
  heartbeatIntervalMs: 2_000,
  /** A peer silent for this long is considered gone. */
  heartbeatTimeoutMs: 6_000,
  /** Grace after SIGTERM before `kill --force` style SIGKILL. */
  killGraceMs: 2_000,
  /** How long `run` waits for a new session's shell to show its first prompt. */
  shellReadyMs: 3_000,
  /** While the link to a local server is down, how often to check that one runs (and start it). */
  recoverRetryMs: 500,
  /** Lingering on close: 0 so exiting processes never hang on unsent messages. */
  lingerMs: 0,
  /** How long the CLI waits for a workspace op (git worktree add, a snapshot of a large tree): minutes, not seconds. */
  workspaceOpMs: 300_000,
} as const;

export const TERMINAL = {
  /** Size used when a session is created without a client terminal (e.g. `new -d`). */
  defaultCols: 80,
  defaultRows: 24,
  /** Scrollback kept per pane by the server's terminal emulator. */
  scrollbackLines: 10_000,
  /** The byte that detaches a raw client: C-\ (as zmx). */
  detachByte: 0x1c,
} as const;

export const QUEUES = {
  /** Messages libzmq queues per peer before it blocks or drops (ZMQ_SNDHWM/RCVHWM). */
  highWaterMark: 100_000,
} as const;
