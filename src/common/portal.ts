/**
 * The agent portal's shapes, shared by the wire (protocol.ts), the server's
 * services (src/portal/) and their clients (src/client/portal.ts, the CLI,
 * the MCP server). No I/O here.
 */

/** The operations a key may be allowed (authorized_keys.json `allow`). */
export const OPERATIONS = ['fs.read', 'fs.write', 'exec', 'pty', 'admin'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** What one client key may do on a server: its root, its operations, whether it may change anything. */
export interface KeyLimits {
  /** Every file and command operation stays under this directory; null: the session's root. */
  root: string | null;
  allow: readonly Operation[];
  readOnly: boolean;
}

/** The limits of a key that may do everything (the local user's). */
export const ALL_LIMITS: KeyLimits = { root: null, allow: OPERATIONS, readOnly: false };

export type FileType = 'file' | 'dir' | 'symlink' | 'other';

export interface FileStat {
  /** Relative to the root, '/'-separated; '.' for the root itself. */
  path: string;
  type: FileType;
  size: number;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  mtimeMs: number;
}

/** One file of a read_files answer: its bytes are `bytes` long in the reply's frame, in order. */
export interface ReadFilesEntry {
  path: string;
  /** The file's size on disk. */
  size: number;
  /** How many of its bytes are in the frame (0 on error). */
  bytes: number;
  /** Cut at the per-file or total bound. */
  truncated: boolean;
  /** Set when this file could not be read; the others still are. */
  error: { code: string; message: string } | null;
}

export interface GrepMatch {
  path: string;
  /** From 1. */
  line: number;
  text: string;
}

export type ChangeKind = 'create' | 'write' | 'remove' | 'rename';

/** An `fs.change` event: something under a watched path changed. */
export interface FsChange {
  watch: number;
  kind: ChangeKind;
  /** Relative to the root. */
  path: string;
}

/** How a command ended. */
export interface ExecResult {
  exitCode: number | null;
  /** The signal that ended it ('SIGKILL'...), null if it exited. */
  signal: string | null;
  durationMs: number;
  /** Some output was not kept (past PORTAL.execKeepBytes per stream). */
  truncated: boolean;
  /** Ended by its timeout (its process group was killed). */
  timedOut: boolean;
}

export interface ExecInfo {
  id: number;
  pid: number;
  argv: string[];
  cwd: string;
  started: number;
  /** null while it runs. */
  result: ExecResult | null;
}

export const SIGNALS = ['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
export type SignalName = (typeof SIGNALS)[number];

/** One line of the audit log (JSON lines, under the server's state directory). */
export interface AuditEntry {
  /** ISO 8601. */
  time: string;
  /** SHA256:... of the client's public key; 'local' when the server checks no keys. */
  key: string;
  /** The key's name in authorized_keys.json, '' if none. */
  who: string;
  session: string;
  op: string;
  /** The path(s) or argv the operation was about. */
  path?: string;
  argv?: string[];
  /** 'OK' or an error code (EDENIED, EOUTSIDE, ENOENT...). */
  result: string;
  /** A command's end (op 'exec'): how it ended. */
  exitCode?: number | null;
  signal?: string | null;
  timedOut?: boolean;
  /** A command's end: its id, pid and start (`ID:PID:STARTED`), the same for each delivery of that end. */
  end?: string;
  bytes: number;
  durationMs: number;
}
