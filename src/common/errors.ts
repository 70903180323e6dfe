/**
 * The error model shared by every layer. A code travels on the wire (see
 * docs/protocol.md, "Errors"); the message is for people.
 */

export const ERROR_CODES = [
  'ENOENT', // a file or directory does not exist
  'EEXIST', // something by that name exists already
  'EACCES', // the operating system refused the operation
  'EDENIED', // the key is not allowed to perform this operation
  'EOUTSIDE', // a path resolves outside the session's root
  'ETOOBIG', // a message or value is larger than the limits allow
  'ETIMEDOUT', // the peer or the operation did not answer in time
  'ENOSESSION', // no session by that name
  'EVERSION', // no protocol version in common
  'EPROTO', // a malformed or unexpected message
  'EINVAL', // an argument has the wrong type or value
  'EUNAVAIL', // the server (or the pty host behind it) cannot be reached
  'EINTERNAL', // a bug: the server could not complete the request
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/**
 * An error with a protocol code; its message is one line, meant for a user.
 * It is an answer, not a bug report, so it is made without a stack trace:
 * V8's capture of one was the largest single cost (≈ 15 µs) of a malformed
 * message in the front, which an authenticated peer can send by the
 * hundred thousand (docs/performance.md, "Hostile traffic"). EINTERNAL —
 * a bug — keeps its stack for the log.
 */
export class ZmxError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    // As withoutStack, inline: super() cannot be called from a callback.
    const limit = Error.stackTraceLimit;
    if (code !== 'EINTERNAL') Error.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'ZmxError';
    this.code = code;
  }
}

/**
 * Runs `fn` with V8's stack capture off: for code that throws errors which
 * the caller discards (a library's errors on a peer's bytes), so that a
 * flood of bad input does not pay for stack traces nobody reads.
 */
export function withoutStack<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Maps any thrown value onto a code and a one-line message. */
export function toZmxError(err: unknown): ZmxError {
  if (err instanceof ZmxError) return err;
  const sys = err as NodeJS.ErrnoException | undefined;
  if (sys && typeof sys.code === 'string') {
    if (sys.code === 'ENOENT') return new ZmxError('ENOENT', sys.message);
    if (sys.code === 'EEXIST') return new ZmxError('EEXIST', sys.message);
    if (sys.code === 'EACCES' || sys.code === 'EPERM') return new ZmxError('EACCES', sys.message);
    if (sys.code === 'ENOTDIR') return new ZmxError('ENOENT', sys.message);
    if (sys.code === 'EISDIR') return new ZmxError('EINVAL', sys.message);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ZmxError('EINTERNAL', message.split('\n')[0] ?? 'internal error');
}
